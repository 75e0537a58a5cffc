// Package postgres stores users, client accounts and sessions in PostgreSQL through
// pgx and pgxpool, for deployments where several server instances share one
// database. [DB] implements [core.Store]; the schema lives in the embedded migration
// directory and is brought up to date by [Open].
//
// Times are compared with the store's clock, passed as a bound parameter, never with
// the database's now(), so that tests can move time. Transactions run in READ
// COMMITTED; what keeps concurrent writers correct across instances is a conditional
// UPDATE for spending a refresh token and a fixed order of row locks (see Locks in
// session.go).
//
// The SQL keeps to what PostgreSQL-compatible distributed engines (CockroachDB,
// YugabyteDB) also accept: no extensions, no triggers, no LISTEN/NOTIFY; plain
// statements, row locks (SKIP LOCKED in PurgeExpired), UPDATE ... FROM and ON DELETE
// CASCADE. The exception is the advisory lock that serializes migrations (see
// migrate.go). Such an engine may also run transactions as SERIALIZABLE and fail them
// with SQLSTATE 40001, which this package does not retry.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vroauth/vroauth/internal/core"
)

// DB is a PostgreSQL store. It is safe for concurrent use, also by several processes
// sharing one database.
type DB struct {
	pool *pgxpool.Pool
	now  core.Clock
}

var _ core.Store = (*DB)(nil)

// options are the settings an [Option] changes.
type options struct {
	now             core.Clock
	maxConns        int32
	minConns        int32
	maxConnLifetime time.Duration
}

// Option changes a setting of [Open].
type Option func(*options)

// WithClock sets the clock the store reads the time from; the default is time.Now.
func WithClock(now core.Clock) Option {
	return func(o *options) { o.now = now }
}

// WithMaxConns sets the largest number of connections in the pool. The default is the
// DSN's pool_max_conns, or else 4 per CPU and at least 8.
func WithMaxConns(n int32) Option {
	return func(o *options) { o.maxConns = n }
}

// WithMinConns sets the number of connections the pool keeps open when idle. The
// default is the DSN's pool_min_conns, or else 0.
func WithMinConns(n int32) Option {
	return func(o *options) { o.minConns = n }
}

// WithMaxConnLifetime sets how long a connection is used before it is replaced. The
// default is the DSN's pool_max_conn_lifetime, or else one hour.
func WithMaxConnLifetime(d time.Duration) Option {
	return func(o *options) { o.maxConnLifetime = d }
}

// Open connects to the database named by dsn (a postgres:// URL or key=value string,
// as pgx parses it, including pgxpool's pool_* parameters), applies the migrations it
// lacks, and returns the store. Several processes may open the same database at once.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	cfg, now, err := poolConfig(dsn, opts)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool, now: now}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// poolConfig parses dsn and applies opts over the defaults.
func poolConfig(dsn string, opts []Option) (*pgxpool.Config, core.Clock, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors leave out the password; the DSN itself is not repeated.
		return nil, nil, fmt.Errorf("postgres: parse dsn: %w", err)
	}
	o := options{now: time.Now, maxConns: cfg.MaxConns, minConns: cfg.MinConns, maxConnLifetime: cfg.MaxConnLifetime}
	if !strings.Contains(dsn, "pool_max_conns") {
		o.maxConns = max(8, 4*int32(runtime.NumCPU()))
	}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.now == nil:
		return nil, nil, errors.New("postgres: nil clock")
	case o.maxConns < 1 || o.minConns < 0 || o.minConns > o.maxConns:
		return nil, nil, fmt.Errorf("postgres: pool of %d to %d connections; want 0 <= min <= max and max >= 1", o.minConns, o.maxConns)
	case o.maxConnLifetime <= 0:
		return nil, nil, fmt.Errorf("postgres: connection lifetime %v; want > 0", o.maxConnLifetime)
	}
	cfg.MaxConns, cfg.MinConns, cfg.MaxConnLifetime = o.maxConns, o.minConns, o.maxConnLifetime
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "vroauth"
	}
	return cfg, o.now, nil
}

// Close closes every connection of the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping reports whether the database answers: EUNAVAILABLE if it cannot be reached.
func (db *DB) Ping(ctx context.Context) error {
	return formatError(db.pool.Ping(ctx))
}

// clock returns the store's time, in UTC and at the precision PostgreSQL keeps, so
// that what a method sets equals what a later read returns.
func (db *DB) clock() time.Time {
	return db.now().UTC().Truncate(time.Microsecond)
}

// stored returns t as it reads back from a TIMESTAMPTZ column.
func stored(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// dbtx is what the unexported helpers run statements on: the pool for a single
// statement, or a transaction for several.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// inTx runs fn in a transaction and commits it if fn returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return formatError(err)
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	return formatError(tx.Commit(ctx))
}

// SQLSTATE codes that formatError maps to domain codes.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
	checkViolation      = "23514"
	notNullViolation    = "23502"
	tooManyConnections  = "53300"
	adminShutdown       = "57P01"
	crashShutdown       = "57P02"
	cannotConnectNow    = "57P03"
)

// formatError turns a pgx error into a domain error: a unique violation is ECONFLICT,
// a foreign key violation or no row is ENOTFOUND, a value out of range is EINVALID,
// and a database that cannot be reached is EUNAVAILABLE. Server errors are told
// apart by SQLSTATE, never by message. Domain errors pass through; anything else is
// wrapped, and callers read it as EINTERNAL.
func formatError(err error) error {
	var (
		pgErr   *pgconn.PgError
		connErr *pgconn.ConnectError
		domErr  *core.Error
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &domErr):
		return err
	case errors.Is(err, pgx.ErrNoRows):
		return core.Errorf(core.ENOTFOUND, "not found")
	case errors.As(err, &pgErr):
		return formatPgError(pgErr)
	case errors.As(err, &connErr):
		return core.Errorf(core.EUNAVAILABLE, "the database cannot be reached")
	case connectionLost(err):
		return core.Errorf(core.EUNAVAILABLE, "the connection to the database was lost")
	}
	return fmt.Errorf("postgres: %w", err)
}

// connectionLost reports whether err is a network failure under a statement: the
// server or the network between went away while a pooled connection was in use.
func connectionLost(err error) bool {
	var netErr net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.As(err, &netErr) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// formatPgError is the part of formatError that reads a server error's SQLSTATE.
func formatPgError(e *pgconn.PgError) error {
	switch {
	case e.Code == uniqueViolation:
		return core.Errorf(core.ECONFLICT, "%s", lookup(conflictMessages, e.ConstraintName, "the record exists"))
	case e.Code == foreignKeyViolation:
		return core.Errorf(core.ENOTFOUND, "%s", lookup(missingMessages, e.ConstraintName, "a referenced record does not exist"))
	case e.Code == checkViolation, e.Code == notNullViolation:
		return core.Errorf(core.EINVALID, "a value is out of range")
	case strings.HasPrefix(e.Code, "08"), e.Code == tooManyConnections,
		e.Code == adminShutdown, e.Code == crashShutdown, e.Code == cannotConnectNow:
		return core.Errorf(core.EUNAVAILABLE, "the database cannot be reached")
	}
	return fmt.Errorf("postgres: %w", e)
}

// conflictMessages and missingMessages name, for the constraints of the schema, what
// a violation means to a caller.
var (
	conflictMessages = map[string]string{
		"users_pkey":                "a user with this ID exists",
		"users_name_key_key":        "a user with this name exists",
		"clients_pkey":              "a client with this ID exists",
		"sessions_pkey":             "a session with this ID exists",
		"sessions_access_hash_key":  "a session with this access token exists",
		"sessions_refresh_hash_key": "a session with this refresh token exists",
	}
	missingMessages = map[string]string{
		"clients_user_id_fkey":    "the user does not exist",
		"sessions_user_id_fkey":   "the user does not exist",
		"sessions_client_id_fkey": "the client does not exist or belongs to another user",
	}
)

// refine replaces the message of err when err has the given code, so that a caller
// reads what was not found.
func refine(err error, code, msg string) error {
	if core.ErrorCode(err) == code {
		return core.Errorf(code, "%s", msg)
	}
	return err
}

// lookup returns m[key], or def if there is none.
func lookup(m map[string]string, key, def string) string {
	if v, ok := m[key]; ok {
		return v
	}
	return def
}
