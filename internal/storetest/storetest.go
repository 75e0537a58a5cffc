// Package storetest is the conformance suite of [core.Store]: one set of behaviour
// tests that every storage backend runs, so that the server can rely on the contract
// written on the interfaces of internal/core whichever backend it is given.
//
// A backend's test calls [Run] with a function that opens a new, empty store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now core.Clock) core.Store {
//			db, err := mybackend.Open(t.Context(), newEmptyDatabase(t), mybackend.WithClock(now))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { db.Close() })
//			return db
//		})
//	}
//
// The suite moves time by advancing the clock it passes to open, so a store must take
// every "now" from that clock. Beyond the interface comments, the suite pins down what
// both backends must agree on:
//   - times are compared truncated to the millisecond; a backend stores at least that;
//   - a token is live while the clock is before its expiry and ended from its expiry on;
//   - an ended session stays ended: re-enabling a user does not bring its sessions back;
//   - CreateSession refuses a disabled user with ENOTFOUND, as FindSessionByAccess
//     would not find the session anyway;
//   - clients of a user are listed by creation time (the suite never creates two in the
//     same millisecond).
package storetest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/core"
)

// Lifetimes of the tokens the suite creates.
const (
	accessTTL  = 15 * time.Minute
	refreshTTL = 120 * time.Minute
)

// start is the clock's first reading; its sub-millisecond part checks that stores
// keep times to the millisecond.
var start = time.Date(2025, 3, 14, 15, 9, 26, 535_897_932, time.UTC)

// opener opens a new, empty store whose clock is now.
type opener = func(t *testing.T, now core.Clock) core.Store

// Run runs the conformance suite. open is called once per subtest; it must return a
// new, empty store whose clock is now, and close it when t ends (t.Cleanup). Subtests
// are named Group/Case, such as User/OK or Rotate/ErrReused, so that -run selects them.
func Run(t *testing.T, open func(t *testing.T, now core.Clock) core.Store) {
	t.Run("User", func(t *testing.T) { testUser(t, open) })
	t.Run("Client", func(t *testing.T) { testClient(t, open) })
	t.Run("Session", func(t *testing.T) { testSession(t, open) })
	t.Run("Rotate", func(t *testing.T) { testRotate(t, open) })
	t.Run("Revoke", func(t *testing.T) { testRevoke(t, open) })
	t.Run("Purge", func(t *testing.T) { testPurge(t, open) })
	t.Run("Revision", func(t *testing.T) { testRevision(t, open) })
	t.Run("Count", func(t *testing.T) { testCount(t, open) })
	t.Run("Ping", func(t *testing.T) {
		e := newEnv(t, open)
		if err := e.store.Ping(e.ctx); err != nil {
			t.Fatalf("Ping() = %v; want nil", err)
		}
	})
}

// Clock is a manual clock for tests. Its Now method is a [core.Clock]; it is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that reads t until it is moved.
func NewClock(t time.Time) *Clock {
	return &Clock{now: t}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one subtest's store and clock.
type env struct {
	t     *testing.T
	ctx   context.Context
	clock *Clock
	store core.Store
}

func newEnv(t *testing.T, open opener) *env {
	t.Helper()
	c := NewClock(start)
	s := open(t, c.Now)
	if s == nil {
		t.Fatal("open returned a nil store")
	}
	return &env{t: t, ctx: t.Context(), clock: c, store: s}
}

// wantCode fails the test unless err carries code.
func wantCode(t testing.TB, op string, err error, code string) {
	t.Helper()
	if got := core.ErrorCode(err); got != code {
		t.Errorf("%s: error code %q (err %v); want %q", op, got, err, code)
	}
}

// ms truncates t to the millisecond, the precision every backend keeps.
func ms(t time.Time) time.Time {
	return t.Truncate(time.Millisecond)
}

// sameTime reports whether a and b are the same instant to the millisecond.
func sameTime(a, b time.Time) bool {
	return ms(a).Equal(ms(b))
}

// checkUser fails the test unless got has the fields of want.
func checkUser(t testing.TB, op string, got, want *core.User) {
	t.Helper()
	switch {
	case got == nil:
		t.Errorf("%s: user = nil; want %s", op, want.Name)
	case got.ID != want.ID || got.Name != want.Name || got.PasswordHash != want.PasswordHash ||
		got.Role != want.Role || got.Disabled != want.Disabled:
		t.Errorf("%s: user = %+v; want %+v", op, *got, *want)
	case !sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.UpdatedAt, want.UpdatedAt):
		t.Errorf("%s: user times = %v, %v; want %v, %v", op, got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
}

// checkSession fails the test unless got has the stored fields of want.
func checkSession(t testing.TB, op string, got, want *core.Session) {
	t.Helper()
	switch {
	case got == nil:
		t.Errorf("%s: session = nil; want %s", op, want.ID)
	case got.ID != want.ID || got.FamilyID != want.FamilyID || got.UserID != want.UserID || got.ClientID != want.ClientID:
		t.Errorf("%s: session (id, family, user, client) = %q, %q, %q, %q; want %q, %q, %q, %q", op,
			got.ID, got.FamilyID, got.UserID, got.ClientID, want.ID, want.FamilyID, want.UserID, want.ClientID)
	case !bytes.Equal(got.AccessHash, want.AccessHash) || !bytes.Equal(got.RefreshHash, want.RefreshHash):
		t.Errorf("%s: session %s has other token hashes than stored", op, got.ID)
	case !sameTime(got.AccessExpiresAt, want.AccessExpiresAt) || !sameTime(got.RefreshExpiresAt, want.RefreshExpiresAt) ||
		!sameTime(got.CreatedAt, want.CreatedAt):
		t.Errorf("%s: session times (access, refresh, created) = %v, %v, %v; want %v, %v, %v", op,
			got.AccessExpiresAt, got.RefreshExpiresAt, got.CreatedAt, want.AccessExpiresAt, want.RefreshExpiresAt, want.CreatedAt)
	case got.User == nil || got.User.ID != want.UserID:
		t.Errorf("%s: session %s has User %+v; want the user %s", op, got.ID, got.User, want.UserID)
	}
}
