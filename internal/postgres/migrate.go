package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// migrationLock is the key of the advisory lock that serializes migrations between
// processes opening the same database at once ("vroauth" in ASCII).
const migrationLock int64 = 0x76726f61757468

// migrate applies, in lexical order, every migration file not yet recorded in the
// migrations table. Each file runs in its own transaction, which first takes a
// transaction-level advisory lock: a second process waits, then finds the file
// recorded and skips it, so concurrent Opens neither fail nor apply a file twice.
//
// Engines without advisory locks (CockroachDB) need another migration lock, for
// example a row locked with SELECT ... FOR UPDATE in a table created beforehand.
func (db *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := db.inTx(ctx, func(tx pgx.Tx) error { return migrateFile(ctx, tx, name, db.clock()) }); err != nil {
			return fmt.Errorf("postgres: migrate %s: %w", name, err)
		}
	}
	return nil
}

// migrateFile applies the named migration unless it is recorded already, under its
// base name.
func migrateFile(ctx context.Context, tx pgx.Tx, name string, now time.Time) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS migrations (
		name       TEXT PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL
	)`); err != nil {
		return err
	}
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM migrations WHERE name = $1)`, path.Base(name)).Scan(&done); err != nil || done {
		return err
	}
	sql, err := migrationFS.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, string(sql)); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO migrations (name, applied_at) VALUES ($1, $2)`, path.Base(name), now)
	return err
}
