// Package sqlite is the SQLite storage backend of the vroauth reference server. [DB]
// implements [core.Store] on one database file through the pure-Go driver
// modernc.org/sqlite, so the server needs no cgo.
//
// Every acknowledged write is durable: the database runs in WAL mode with
// synchronous=FULL, so a commit that returned survives kill -9 and power loss. SQLite
// allows one writer at a time; DB keeps one write connection, through which every write
// transaction passes (BEGIN IMMEDIATE, so a read-then-write transaction never fails
// halfway on a lock), and a pool of read-only connections for lookups, which WAL lets
// run alongside the writer. Concurrent writes share transactions, and so fsyncs (group
// commit, see commit.go); each caller returns only once its write is committed.
//
// The schema lives in migration/*.sql, embedded and applied in lexical order by [Open].
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/vroauth/vroauth/internal/core"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// Memory is the path of a private in-memory database, which lives until Close. It
// uses a single connection for reads and writes.
const Memory = ":memory:"

// busyTimeout is how long a statement waits for a lock another process holds, in ms.
const busyTimeout = 5000

// DB is a SQLite database holding users, client accounts and sessions. It implements
// [core.Store] and is safe for concurrent use.
type DB struct {
	path  string
	now   core.Clock
	write *stmtCache // one connection: every write transaction goes through update
	read  *stmtCache // read-only connections; the same pool and cache as write for Memory

	// The writer (commit.go): update queues on writes; Close closes closing and waits
	// for writerDone.
	writes     chan *write
	closing    chan struct{}
	writerDone chan struct{}
	closeOnce  sync.Once

	revision // see Revision
}

var _ core.Store = (*DB)(nil)

// Option configures [Open].
type Option func(*DB)

// WithClock makes the database read the time from now instead of time.Now, so that
// tests can move time.
func WithClock(now core.Clock) Option {
	return func(db *DB) { db.now = now }
}

// Open opens the database at path, creating it (readable by its owner only) if it does
// not exist, and applies the migrations it has not applied yet. path is a file name or
// [Memory].
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite: invalid database path %q", path)
	}
	db := &DB{path: path, now: time.Now, writes: make(chan *write, maxBatch),
		closing: make(chan struct{}), writerDone: make(chan struct{})}
	for _, opt := range opts {
		opt(db)
	}
	if err := db.open(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

func (db *DB) open(ctx context.Context) error {
	if db.path != Memory {
		// SQLite gives the -wal and -shm files the permissions of the database file.
		f, err := os.OpenFile(db.path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		f.Close()
	}
	write, err := openPool(db.path, writeParams(), 1)
	if err != nil {
		return err
	}
	db.write = &stmtCache{pool: write}
	db.read = db.write
	go db.writeLoop()
	if db.path != Memory {
		read, err := openPool(db.path, readParams(), max(2, runtime.GOMAXPROCS(0)))
		if err != nil {
			return err
		}
		db.read = &stmtCache{pool: read}
	}
	if err := db.migrate(ctx); err != nil {
		return err
	}
	db.watchShm()
	return nil
}

// writeParams are the connection parameters of the write connection: WAL, durable
// commits, enforced foreign keys, and BEGIN IMMEDIATE for every transaction. The
// statement journal that undoes a failed write of a batch (a savepoint, commit.go)
// stays in memory (temp_store) instead of spilling to a temporary file.
func writeParams() url.Values {
	return url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeout),
			"foreign_keys(1)",
			"journal_mode(WAL)",
			"synchronous(FULL)",
			"temp_store(MEMORY)",
		},
		"_txlock": {"immediate"},
	}
}

// readParams are the connection parameters of the read pool, whose connections are as
// many as the CPUs (reads are CPU work in this pure-Go SQLite) and whose page caches
// are half the default: the server's hot reads are cached above the store (see
// Revision), and each connection's cache is resident memory of the server.
func readParams() url.Values {
	return url.Values{"_pragma": {fmt.Sprintf("busy_timeout(%d)", busyTimeout), "query_only(1)",
		fmt.Sprintf("cache_size(%d)", readCacheKiB)}}
}

// readCacheKiB is the page cache of each read connection as SQLite's cache_size takes
// it: negative, in KiB (SQLite's default is -2000).
const readCacheKiB = -1024

// openPool opens a pool of at most n connections that stay open: each new connection
// costs a file open and its pragmas, and one to Memory is a new, empty database.
func openPool(path string, params url.Values, n int) (*sql.DB, error) {
	pool, err := sql.Open("sqlite", path+"?"+params.Encode())
	if err != nil {
		return nil, err
	}
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	pool.SetConnMaxLifetime(0)
	pool.SetConnMaxIdleTime(0)
	return pool, nil
}

// Close closes the database. Writes still queued fail; a batch being written completes
// first.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { close(db.closing) })
	db.closed.Store(true)
	if db.write != nil {
		<-db.writerDone
	}
	var errs []error
	if db.read != nil && db.read != db.write {
		errs = append(errs, db.read.close())
	}
	if db.write != nil {
		errs = append(errs, db.write.close())
	}
	return errors.Join(errs...)
}

// Ping reports whether the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	// SELECT 1 would not open a read transaction, and so would answer while the file
	// cannot be read; the migrations table is tiny.
	var n int
	if err := db.read.pool.QueryRowContext(ctx, `SELECT count(*) FROM migrations`).Scan(&n); err != nil {
		return formatError("ping", err)
	}
	return nil
}

// migrate applies, in lexical order, every migration file not yet recorded in the
// migrations table, each in its own transaction.
func (db *DB) migrate(ctx context.Context) error {
	const create = `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`
	if _, err := db.write.pool.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, name := range names {
		if err := db.update(ctx, func(tx *tx) error { return migrateFile(ctx, tx, name) }); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// migrateFile applies the named migration unless it is recorded as applied.
func migrateFile(ctx context.Context, tx *tx, name string) error {
	var n int
	base := path.Base(name)
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM migrations WHERE name = ?`, base).Scan(&n); err != nil || n > 0 {
		return err
	}
	script, err := fs.ReadFile(migrationFS, name)
	if err != nil {
		return err
	}
	if _, err := tx.Tx.ExecContext(ctx, string(script)); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO migrations (name, applied_at) VALUES (?, ?)`, base, millis(tx.now))
	return err
}

// begin starts a write transaction (BEGIN IMMEDIATE, set by the connection's _txlock).
// Only the writer calls it.
func (db *DB) begin() (*tx, error) {
	ctx := context.Background() // see update: no caller may interrupt a shared transaction
	sqlTx, err := db.write.pool.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &tx{Tx: sqlTx, ctx: ctx, cache: db.write, now: db.clock()}, nil
}

// end rolls t back unless it committed, then prepares the statements t ran unprepared,
// now that the write connection is free.
func (db *DB) end(t *tx) {
	t.Rollback()
	for _, query := range t.missed {
		db.write.prepare(t.ctx, query) // on failure the query keeps running unprepared
	}
}

// clock returns the current time as the database stores it: UTC, to the millisecond.
func (db *DB) clock() time.Time {
	return db.now().UTC().Truncate(time.Millisecond)
}

// queryer is what the read helpers need: a reader or a *tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// millis returns t as stored: Unix milliseconds.
func millis(t time.Time) int64 {
	return t.UnixMilli()
}

// fromMillis returns the time stored as ms.
func fromMillis(ms int64) time.Time {
	return time.UnixMilli(ms).UTC()
}

// formatError returns err as callers of [core.Store] see it. Driver errors become
// domain errors: constraint violations by their SQLite extended result code, a lock
// that outlasted busy_timeout, and no rows. Domain errors pass unchanged; any other
// error is prefixed with the operation op, and callers read it as EINTERNAL.
func formatError(op string, err error) error {
	var (
		derr *sqlitedriver.Error
		cerr *core.Error
	)
	switch {
	case err == nil || errors.As(err, &cerr):
		return err
	case errors.Is(err, sql.ErrNoRows):
		return core.Errorf(core.ENOTFOUND, "not found")
	case !errors.As(err, &derr):
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	switch derr.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return core.Errorf(core.ECONFLICT, "it exists already")
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return core.Errorf(core.ENOTFOUND, "what it refers to does not exist")
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return core.Errorf(core.EINVALID, "a value is out of range")
	}
	switch derr.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return core.Errorf(core.EUNAVAILABLE, "the database is busy")
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// refine replaces the message of err when err has the given code, so that a caller
// reads what was not found or what exists already.
func refine(err error, code, format string, args ...any) error {
	if core.ErrorCode(err) == code {
		return core.Errorf(code, format, args...)
	}
	return err
}
