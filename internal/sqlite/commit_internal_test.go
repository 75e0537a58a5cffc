package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/vroauth/vroauth/internal/core"
)

func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "vroauth.db"))
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// insertUser returns a write that stores a user named name.
func insertUser(name string) func(*tx) error {
	return func(t *tx) error {
		return createUser(t.ctx, t, &core.User{ID: core.NewID(), Name: name, PasswordHash: "h", Role: core.RolePlanAuthor})
	}
}

func newWrite(fn func(*tx) error) *write {
	return &write{fn: fn, done: make(chan struct{})}
}

// TestCommitBatch runs batches directly: every write of a batch gets its own outcome,
// and a failing one leaves no trace while the others commit.
func TestCommitBatch(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		fns     []func(*tx) error
		wantErr []error // nil: the write commits; errConstraint: any constraint error
		stored  []string
		missing []string
	}{
		{
			name:   "OK",
			fns:    []func(*tx) error{insertUser("a"), insertUser("b"), insertUser("c")},
			stored: []string{"a", "b", "c"},
		},
		{
			name: "ErrOneFails",
			fns: []func(*tx) error{insertUser("a"), func(t *tx) error {
				if err := insertUser("b")(t); err != nil {
					return err
				}
				return boom // after its insert: the insert must be undone
			}, insertUser("c")},
			wantErr: []error{nil, boom, nil},
			stored:  []string{"a", "c"},
			missing: []string{"b"},
		},
		{
			name:    "ErrConstraint",
			fns:     []func(*tx) error{insertUser("a"), insertUser("A"), insertUser("c")}, // names are case-insensitive
			wantErr: []error{nil, errConstraint, nil},
			stored:  []string{"a", "c"},
		},
		{
			name:    "ErrAllFail",
			fns:     []func(*tx) error{func(*tx) error { return boom }, func(*tx) error { return boom }},
			wantErr: []error{boom, boom},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTemp(t)
			var batch []*write
			for _, fn := range tt.fns {
				batch = append(batch, newWrite(fn))
			}
			db.commitBatch(batch)
			for i, w := range batch {
				<-w.done
				want := error(nil)
				if tt.wantErr != nil {
					want = tt.wantErr[i]
				}
				switch {
				case want == errConstraint && core.ErrorCode(formatError("", w.err)) != core.ECONFLICT:
					t.Errorf("write %d: err = %v; want a conflict", i, w.err)
				case want != errConstraint && !errors.Is(w.err, want) && w.err != want:
					t.Errorf("write %d: err = %v; want %v", i, w.err, want)
				}
			}
			for _, name := range tt.stored {
				if _, err := db.FindUserByName(t.Context(), name); err != nil {
					t.Errorf("FindUserByName(%q) = %v; want the user", name, err)
				}
			}
			for _, name := range tt.missing {
				if _, err := db.FindUserByName(t.Context(), name); core.ErrorCode(err) != core.ENOTFOUND {
					t.Errorf("FindUserByName(%q) = %v; want %q", name, err, core.ENOTFOUND)
				}
			}
		})
	}
}

// errConstraint stands for any constraint violation in TestCommitBatch.
var errConstraint = errors.New("constraint")

// TestCommitBatchSkipsCancelled checks that a write whose caller gave up before the
// writer took it never runs.
func TestCommitBatchSkipsCancelled(t *testing.T) {
	db := openTemp(t)
	ran := false
	cancelled := newWrite(func(t *tx) error { ran = true; return nil })
	cancelled.state.Store(writeCancelled)
	ok := newWrite(insertUser("a"))
	db.commitBatch([]*write{cancelled, ok})
	<-ok.done
	if ok.err != nil || ran {
		t.Errorf("commitBatch(cancelled, ok): ok.err = %v, cancelled ran = %v; want nil, false", ok.err, ran)
	}
}

// blockWriter makes the writer wait until the returned function is called, so that
// the writes queued meanwhile form one batch.
func blockWriter(t *testing.T, db *DB) (release func()) {
	t.Helper()
	started, unblock := make(chan struct{}), make(chan struct{})
	go db.update(context.Background(), func(*tx) error {
		close(started)
		<-unblock
		return nil
	})
	<-started
	var once sync.Once
	release = func() { once.Do(func() { close(unblock) }) }
	t.Cleanup(release)
	return release
}

// TestUpdate checks the outcomes update gives its callers around the writer.
func TestUpdate(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		db := openTemp(t)
		release := blockWriter(t, db)
		const n = 50
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = db.update(t.Context(), insertUser(core.NewID())) })
		}
		for len(db.writes) < n { // every write queued behind the blocked one
			runtime.Gosched()
		}
		release()
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("update %d = %v; want nil", i, err)
			}
		}
		if got, err := db.CountUsers(t.Context()); err != nil || got != n {
			t.Errorf("CountUsers = %d, %v; want %d, nil", got, err, n)
		}
	})
	t.Run("ErrCancelled", func(t *testing.T) {
		db := openTemp(t)
		release := blockWriter(t, db)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		ran := false
		err := db.update(ctx, func(*tx) error { ran = true; return nil })
		release()
		if err := db.update(t.Context(), func(*tx) error { return nil }); err != nil { // the writer is past it
			t.Fatalf("update = %v", err)
		}
		if !errors.Is(err, context.Canceled) || ran {
			t.Errorf("update(cancelled ctx) = %v, ran = %v; want %v, false", err, ran, context.Canceled)
		}
	})
	t.Run("ErrClosed", func(t *testing.T) {
		db := openTemp(t)
		db.Close()
		if err := db.update(t.Context(), insertUser("a")); !errors.Is(err, errClosed) {
			t.Errorf("update after Close = %v; want %v", err, errClosed)
		}
	})
}

// TestCommitBatchOneStatement checks the writes that run without a savepoint
// (updateOne): a broken constraint undoes only its own statement, and any other
// failure makes the batch start over with each write alone, so that the failed write
// leaves nothing and the others still commit once.
func TestCommitBatchOneStatement(t *testing.T) {
	boom := errors.New("boom")
	one := func(fn func(*tx) error) *write {
		w := newWrite(fn)
		w.one = true
		return w
	}
	t.Run("ErrConstraint", func(t *testing.T) {
		db := openTemp(t)
		batch := []*write{one(insertUser("a")), one(insertUser("A")), one(insertUser("c"))}
		db.commitBatch(batch)
		for i, want := range []string{"", core.ECONFLICT, ""} {
			<-batch[i].done
			if got := core.ErrorCode(formatError("", batch[i].err)); got != want {
				t.Errorf("write %d: err = %v; want code %q", i, batch[i].err, want)
			}
		}
		if n, err := db.CountUsers(t.Context()); n != 2 || err != nil {
			t.Errorf("CountUsers = %d, %v; want 2, nil", n, err)
		}
	})
	t.Run("ErrOther", func(t *testing.T) {
		db := openTemp(t)
		runs := 0
		failing := one(func(t *tx) error {
			runs++
			if err := insertUser("b")(t); err != nil {
				return err
			}
			return boom // not a constraint: the transaction is not to be trusted
		})
		batch := []*write{one(insertUser("a")), failing, one(insertUser("c"))}
		db.commitBatch(batch)
		for i, want := range []error{nil, boom, nil} {
			<-batch[i].done
			if !errors.Is(batch[i].err, want) || (want == nil && batch[i].err != nil) {
				t.Errorf("write %d: err = %v; want %v", i, batch[i].err, want)
			}
		}
		if runs != 2 {
			t.Errorf("the failing write ran %d times; want 2 (in the batch, then alone)", runs)
		}
		for name, want := range map[string]string{"a": "", "b": core.ENOTFOUND, "c": ""} {
			if _, err := db.FindUserByName(t.Context(), name); core.ErrorCode(err) != want {
				t.Errorf("FindUserByName(%q) = %v; want code %q", name, err, want)
			}
		}
	})
}
