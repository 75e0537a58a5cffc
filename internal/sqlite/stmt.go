package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

// stmtCache holds the statements prepared on a pool, one per query text; database/sql
// keeps each prepared on every connection that ran it. Parsing costs more than running
// the indexed lookups of this package, so every query goes through a cache. The query
// texts are the package's constants, so the cache stays small.
type stmtCache struct {
	pool  *sql.DB
	stmts sync.Map // query text → *sql.Stmt
}

// load returns the statement of query, or nil if it is not prepared yet.
func (c *stmtCache) load(query string) *sql.Stmt {
	if st, ok := c.stmts.Load(query); ok {
		return st.(*sql.Stmt)
	}
	return nil
}

// prepare returns the statement of query, preparing it on the pool if needed. It takes
// a connection of the pool, so it must not run inside a transaction of a pool of one.
func (c *stmtCache) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := c.load(query); st != nil {
		return st, nil
	}
	st, err := c.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// close closes every statement of the cache, then the pool.
func (c *stmtCache) close() error {
	var errs []error
	c.stmts.Range(func(query, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close())
		c.stmts.Delete(query)
		return true
	})
	return errors.Join(append(errs, c.pool.Close())...)
}

// reader runs the read helpers' queries on the read pool with prepared statements. A
// statement that cannot be prepared runs unprepared, which reports the error.
type reader struct {
	*stmtCache
}

// QueryRowContext runs a query that returns at most one row.
func (r reader) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st, err := r.prepare(ctx, query); err == nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.pool.QueryRowContext(ctx, query, args...)
}

// QueryContext runs a query.
func (r reader) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st, err := r.prepare(ctx, query); err == nil {
		return st.QueryContext(ctx, args...)
	}
	return r.pool.QueryContext(ctx, query, args...)
}

// tx is a write transaction with the time it started, which every row it writes takes
// as "now". Its statements come from the write pool's cache; one not there yet runs
// unprepared and is prepared once the transaction has ended and the single write
// connection is free again (see DB.end). The embedded *sql.Tx runs statements that
// must never be cached, such as migration scripts.
//
// Its methods take a ctx to read like database/sql's but run every statement on ctx,
// the transaction's own context: a transaction may carry the writes of several callers
// (see DB.update), and none of them may interrupt it.
type tx struct {
	*sql.Tx
	ctx    context.Context
	cache  *stmtCache
	missed []string
	now    time.Time
}

// stmt returns query's statement bound to the transaction, or nil if it is not cached.
func (t *tx) stmt(query string) *sql.Stmt {
	if st := t.cache.load(query); st != nil {
		return t.Tx.StmtContext(t.ctx, st)
	}
	t.missed = append(t.missed, query)
	return nil
}

// ExecContext runs a statement in the transaction.
func (t *tx) ExecContext(_ context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(query); st != nil {
		return st.ExecContext(t.ctx, args...)
	}
	return t.Tx.ExecContext(t.ctx, query, args...)
}

// QueryRowContext runs a query that returns at most one row in the transaction.
func (t *tx) QueryRowContext(_ context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(query); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.Tx.QueryRowContext(t.ctx, query, args...)
}

// QueryContext runs a query in the transaction.
func (t *tx) QueryContext(_ context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(query); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.Tx.QueryContext(t.ctx, query, args...)
}
