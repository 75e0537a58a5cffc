package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/vroauth/vroauth/internal/core"
)

// Group commit. SQLite makes a write durable with an fsync at commit (synchronous=FULL),
// which costs far more than the write itself, and allows one writer at a time. So one
// goroutine, the writer, owns the write connection: update hands it a write and waits;
// the writer takes every write queued by then (up to maxBatch), runs them in one
// transaction, each inside a savepoint, commits once, and only then tells each caller
// the outcome. A write that fails is rolled back to its savepoint and reported to its
// own caller alone; the others still commit. While a batch commits the next one
// queues, so the more callers wait, the more each fsync carries, and a lone write
// costs what it did before: one transaction, one fsync.

// maxBatch bounds the writes of one transaction, so that none holds the write lock
// long.
const maxBatch = 256

// errClosed is the answer to a write after Close.
var errClosed = errors.New("sqlite: the database is closed")

// The states of a write.
const (
	writeQueued    int32 = iota
	writeTaken           // the writer runs it; its caller waits for the outcome
	writeCancelled       // its caller gave up before the writer took it
)

// write is one call of update on its way through the writer.
type write struct {
	fn    func(*tx) error
	one   bool // fn runs one statement: see updateOne
	state atomic.Int32
	err   error         // the outcome, set before done is closed
	done  chan struct{} // closed when err is final
}

func (w *write) finish(err error) {
	w.err = err
	close(w.done)
}

// update runs fn in a write transaction and returns once that transaction committed,
// or fn's error if fn failed (its writes are then undone). Every write of DB goes
// through here. fn may share its transaction with other calls' (see above): it must
// not call update, and its statements run on the transaction's context, not ctx, so
// that a caller giving up cannot interrupt the others (SQLite may roll back a whole
// transaction on an interrupt). fn may run again, alone, if the shared transaction
// fails, so it must set its results from what it reads each time. ctx only bounds the
// wait: a caller whose ctx ends before its write starts gets ctx's error and its
// write never runs; once the write started, update waits for its outcome. Its errors
// are raw; the exported method formats them.
func (db *DB) update(ctx context.Context, fn func(*tx) error) error {
	return db.submit(ctx, &write{fn: fn, done: make(chan struct{})})
}

// updateOne is update for an fn that runs a single statement, and so needs no
// savepoint in a shared transaction: SQLite undoes a statement that breaks a
// constraint by itself, and a statement that changes nothing needs no undoing. Any
// other failure of the statement makes the writer roll the whole transaction back and
// run its writes again, each alone.
func (db *DB) updateOne(ctx context.Context, fn func(*tx) error) error {
	return db.submit(ctx, &write{fn: fn, one: true, done: make(chan struct{})})
}

// submit queues w for the writer and waits for its outcome (see update).
func (db *DB) submit(ctx context.Context, w *write) error {
	select {
	case <-db.closing:
		return errClosed
	default:
	}
	select {
	case db.writes <- w:
	case <-db.closing:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		if w.state.CompareAndSwap(writeQueued, writeCancelled) {
			return ctx.Err()
		}
	case <-db.writerDone: // closed; w came too late for the writer's last look
		if w.state.CompareAndSwap(writeQueued, writeCancelled) {
			return errClosed
		}
	}
	<-w.done
	return w.err
}

// writeLoop is the writer: it commits the queued writes, batch after batch, until
// Close, then fails the writes still queued.
func (db *DB) writeLoop() {
	defer close(db.writerDone)
	batch := make([]*write, 0, maxBatch)
	for {
		select {
		case w := <-db.writes:
			batch = append(batch[:0], w)
		drain:
			for len(batch) < maxBatch {
				select {
				case w := <-db.writes:
					batch = append(batch, w)
				default:
					break drain
				}
			}
			db.commitBatch(batch)
			clear(batch)
		case <-db.closing:
			for {
				select {
				case w := <-db.writes:
					if w.state.CompareAndSwap(writeQueued, writeTaken) {
						w.finish(errClosed)
					}
				default:
					return
				}
			}
		}
	}
}

// commitBatch runs the writes of batch whose callers still wait, sharing one
// transaction, and tells each its outcome.
func (db *DB) commitBatch(batch []*write) {
	live := batch[:0]
	for _, w := range batch {
		if w.state.CompareAndSwap(writeQueued, writeTaken) {
			live = append(live, w)
		}
	}
	switch len(live) {
	case 0:
		return
	case 1:
		live[0].finish(db.runAlone(live[0].fn))
		return
	}
	t, err := db.begin()
	if err != nil {
		for _, w := range live {
			w.finish(err)
		}
		return
	}
	defer db.end(t)
	var applied []*write
	for i, w := range live {
		err := t.run(w)
		if errors.Is(err, errBroken) {
			// The transaction is unusable (SQLite may end one by itself on a full disk or
			// an I/O error): nothing of it commits, and each unfinished write runs alone.
			t.Rollback()
			for _, w := range append(applied, live[i:]...) {
				w.finish(db.runAlone(w.fn))
			}
			return
		}
		if err != nil {
			w.finish(err) // undone; the others go on
			continue
		}
		applied = append(applied, w)
	}
	err = t.Commit()
	for _, w := range applied {
		w.finish(err)
	}
}

// runAlone runs fn in a transaction of its own and commits it unless fn fails.
func (db *DB) runAlone(fn func(*tx) error) error {
	t, err := db.begin()
	if err != nil {
		return err
	}
	defer db.end(t)
	if err := fn(t); err != nil {
		return err
	}
	return t.Commit()
}

// errBroken wraps a failure after which the transaction can no longer be trusted.
var errBroken = errors.New("sqlite: the batch transaction failed")

// run runs w's fn in t, which other writes share: inside a savepoint, unless it runs
// one statement (updateOne). Its error is fn's, which undid nothing else of t, or
// wraps errBroken.
func (t *tx) run(w *write) error {
	if !w.one {
		return t.savepoint(w.fn)
	}
	err := w.fn(t)
	if err != nil && !statementUndone(err) {
		return errors.Join(errBroken, err)
	}
	return err
}

// statementUndone reports whether err, the failure of a single statement, left the
// transaction as it was before the statement: a constraint it broke (SQLite undoes
// the statement), or no row to change (sql.ErrNoRows, from oneRow), or a domain error.
func statementUndone(err error) bool {
	var (
		derr *sqlitedriver.Error
		cerr *core.Error
	)
	switch {
	case errors.Is(err, sql.ErrNoRows), errors.As(err, &cerr):
		return true
	case errors.As(err, &derr):
		return derr.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
	}
	return false
}

// savepoint runs fn inside a savepoint of t: on success its writes stay in t, on
// failure they are rolled back and fn's error returned. An error wrapping errBroken
// means the savepoint itself failed and t must be rolled back.
func (t *tx) savepoint(fn func(*tx) error) error {
	if _, err := t.ExecContext(t.ctx, `SAVEPOINT write`); err != nil {
		return errors.Join(errBroken, err)
	}
	if err := fn(t); err != nil {
		if _, rerr := t.ExecContext(t.ctx, `ROLLBACK TO write`); rerr != nil {
			return errors.Join(errBroken, rerr)
		}
		if _, rerr := t.ExecContext(t.ctx, `RELEASE write`); rerr != nil {
			return errors.Join(errBroken, rerr)
		}
		return err
	}
	if _, err := t.ExecContext(t.ctx, `RELEASE write`); err != nil {
		return errors.Join(errBroken, err)
	}
	return nil
}
