package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/postgres"
	"github.com/vroauth/vroauth/internal/sqlite"
)

// openStore opens the database named by dsn: a postgres:// or postgresql:// URL selects
// PostgreSQL, opened with pg, anything else is a SQLite file (pg is ignored).
func openStore(ctx context.Context, dsn string, pg ...postgres.Option) (core.Store, error) {
	if isPostgres(dsn) {
		db, err := postgres.Open(ctx, dsn, pg...)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL database: %w", err)
		}
		return db, nil
	}
	db, err := sqlite.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open SQLite database %s: %w", dsn, err)
	}
	return db, nil
}

// pgPool holds what the PostgreSQL pool flags of serve set, as store options in the
// order they were given (environment twins first, so the command line wins). A flag
// left unset adds nothing: the DSN's pool_* parameter, or else the store's default,
// applies.
type pgPool struct {
	opts []postgres.Option
}

// addFlags defines the pool flags on fs.
func (p *pgPool) addFlags(fs *flag.FlagSet) {
	fs.Func("pg-max-conns", "PostgreSQL: the most connections this instance opens, `n` >= 1 (default: the DSN's pool_max_conns, else 4 per CPU and at least 8); keep instances x n below the server's max_connections",
		p.count(1, postgres.WithMaxConns))
	fs.Func("pg-min-conns", "PostgreSQL: connections kept open while idle, `n` >= 0 (default: the DSN's pool_min_conns, else 0)",
		p.count(0, postgres.WithMinConns))
	fs.Func("pg-max-conn-lifetime", "PostgreSQL: how long a connection is used before it is replaced, a `duration` > 0 (default: the DSN's pool_max_conn_lifetime, else 1h)",
		func(s string) error {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return fmt.Errorf("want a duration above 0, such as 30m")
			}
			p.opts = append(p.opts, postgres.WithMaxConnLifetime(d))
			return nil
		})
}

// count returns the parser of a connection-count flag of at least least.
func (p *pgPool) count(least int32, opt func(int32) postgres.Option) func(string) error {
	return func(s string) error {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || int32(n) < least {
			return fmt.Errorf("want a whole number of at least %d", least)
		}
		p.opts = append(p.opts, opt(int32(n)))
		return nil
	}
}
