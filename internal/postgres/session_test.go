package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/postgres"
	"github.com/vroauth/vroauth/internal/postgres/pgtest"
	"github.com/vroauth/vroauth/internal/storetest"
)

// Lifetimes of the tokens the tests create.
const (
	accessTTL  = 15 * time.Minute
	refreshTTL = 120 * time.Minute
)

// MustServers opens two stores on one new schema, each with a pool of its own, as two
// server instances sharing a database would.
func MustServers(tb testing.TB) (a, b *postgres.DB) {
	tb.Helper()
	dsn := pgtest.DSN(tb)
	return MustOpen(tb, dsn, nil, postgres.WithMaxConns(8)), MustOpen(tb, dsn, nil, postgres.WithMaxConns(8))
}

// MustUser stores a user with a new ID.
func MustUser(tb testing.TB, db *postgres.DB, name string) *core.User {
	tb.Helper()
	u := &core.User{ID: core.NewID(), Name: name, PasswordHash: "$argon2id$" + name, Role: core.RolePlanAuthor}
	if err := db.CreateUser(context.Background(), u); err != nil {
		tb.Fatalf("CreateUser(%q) = %v", name, err)
	}
	return u
}

// MustClient stores a client of u.
func MustClient(tb testing.TB, db *postgres.DB, u *core.User) *core.Client {
	tb.Helper()
	c := &core.Client{ID: core.NewID(), UserID: u.ID, SecretHash: core.HashToken(core.NewToken())}
	if err := db.CreateClient(context.Background(), c); err != nil {
		tb.Fatalf("CreateClient = %v", err)
	}
	return c
}

// newSession returns an unstored session of u (through c if not nil) with fresh token
// hashes; it expires as the tokens of the server do.
func newSession(u *core.User, c *core.Client) *core.Session {
	return newSessionAt(time.Now(), u, c)
}

// newSessionAt is newSession for a session that starts at now.
func newSessionAt(now time.Time, u *core.User, c *core.Client) *core.Session {
	s := &core.Session{ID: core.NewID(), AccessHash: core.HashToken(core.NewToken()),
		RefreshHash: core.HashToken(core.NewToken()), AccessExpiresAt: now.Add(accessTTL), RefreshExpiresAt: now.Add(refreshTTL)}
	if u != nil {
		s.UserID = u.ID
	}
	if c != nil {
		s.ClientID = c.ID
	}
	return s
}

// MustSession stores a new family of u (through c if not nil).
func MustSession(tb testing.TB, db *postgres.DB, u *core.User, c *core.Client, exclusive bool) *core.Session {
	tb.Helper()
	s := newSession(u, c)
	if err := db.CreateSession(context.Background(), s, exclusive); err != nil {
		tb.Fatalf("CreateSession = %v", err)
	}
	return s
}

// TestRotateSessionAcrossPools spends one refresh token from 20 goroutines in each of
// two pools at once, a round at a time: exactly one rotation wins, the others see a
// reuse (or, once the family has ended, an unknown token), and the family ends.
func TestRotateSessionAcrossPools(t *testing.T) {
	const rounds, perPool = 10, 20
	a, b := MustServers(t)
	u := MustUser(t, a, "alice")
	for range rounds {
		s := MustSession(t, a, u, nil, false)
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			codes = map[string]int{}
			nexts []*core.Session
		)
		for i := range 2 * perPool {
			db, next := []*postgres.DB{a, b}[i%2], newSession(nil, nil)
			nexts = append(nexts, next)
			wg.Go(func() {
				_, err := db.RotateSession(t.Context(), s.RefreshHash, next, false)
				mu.Lock()
				defer mu.Unlock()
				codes[core.ErrorCode(err)]++
			})
		}
		wg.Wait()
		if codes[""] != 1 || codes[core.EREUSED] == 0 || codes[""]+codes[core.EREUSED]+codes[core.ENOTFOUND] != 2*perPool {
			t.Fatalf("%d concurrent RotateSession over two pools: outcomes by code %v; want 1 success, the rest %q or %q",
				2*perPool, codes, core.EREUSED, core.ENOTFOUND)
		}
		for _, s := range append(nexts, s) {
			wantEnded(t, a, s)
		}
	}
}

// TestRevokeFamilyDuringRotation revokes a family in one pool while the other keeps
// rotating it: once RevokeFamily has returned, no session of the family is left.
func TestRevokeFamilyDuringRotation(t *testing.T) {
	a, b := MustServers(t)
	u := MustUser(t, a, "alice")
	c := MustClient(t, a, u)
	for range 20 {
		s := MustSession(t, a, u, c, false)
		done := rotateUntilFailure(t, a, s)
		time.Sleep(2 * time.Millisecond)
		if err := b.RevokeFamily(t.Context(), s.FamilyID); err != nil {
			t.Errorf("RevokeFamily = %v; want nil", err)
		}
		for _, s := range <-done {
			wantGone(t, a, s)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

// TestUpdateUserDuringRotation disables a user in one pool while the other keeps
// rotating its sessions, through a client and without: once UpdateUser has returned,
// no session of the user is left, even after the user is enabled again.
func TestUpdateUserDuringRotation(t *testing.T) {
	a, b := MustServers(t)
	u := MustUser(t, a, "alice")
	c := MustClient(t, a, u)
	yes, no := true, false
	for range 10 {
		done := []<-chan []*core.Session{
			rotateUntilFailure(t, a, MustSession(t, a, u, c, false)),
			rotateUntilFailure(t, a, MustSession(t, a, u, nil, false)),
		}
		time.Sleep(2 * time.Millisecond)
		if _, err := b.UpdateUser(t.Context(), u.Name, core.UserUpdate{Disabled: &yes}); err != nil {
			t.Errorf("UpdateUser(disable) = %v", err)
		}
		if _, err := b.UpdateUser(t.Context(), u.Name, core.UserUpdate{Disabled: &no}); err != nil {
			t.Errorf("UpdateUser(enable) = %v", err)
		}
		for _, ch := range done {
			for _, s := range <-ch {
				wantGone(t, a, s)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

// TestDeleteClientDuringRotation deletes a client in one pool while the other keeps
// rotating its session: the rotation fails with ENOTFOUND, never with a deadlock, and
// no session of the client is left.
func TestDeleteClientDuringRotation(t *testing.T) {
	a, b := MustServers(t)
	u := MustUser(t, a, "alice")
	for range 20 {
		c := MustClient(t, a, u)
		done := rotateUntilFailure(t, a, MustSession(t, a, u, c, false))
		time.Sleep(2 * time.Millisecond)
		if err := b.DeleteClient(t.Context(), c.ID); err != nil {
			t.Errorf("DeleteClient = %v; want nil", err)
		}
		for _, s := range <-done {
			wantGone(t, a, s)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

// TestCreateSessionExclusiveAcrossPools logs one principal in exclusively from two
// pools at once: one family is left.
func TestCreateSessionExclusiveAcrossPools(t *testing.T) {
	const perPool = 10
	a, b := MustServers(t)
	u := MustUser(t, a, "alice")
	c := MustClient(t, a, u)
	for _, via := range []*core.Client{nil, c} {
		var (
			wg       sync.WaitGroup
			sessions []*core.Session
		)
		for i := range 2 * perPool {
			db, s := []*postgres.DB{a, b}[i%2], newSession(u, via)
			sessions = append(sessions, s)
			wg.Go(func() {
				if err := db.CreateSession(t.Context(), s, true); err != nil {
					t.Errorf("CreateSession(exclusive) = %v; want nil", err)
				}
			})
		}
		wg.Wait()
		live := 0
		for _, s := range sessions {
			if _, err := a.FindSessionByAccess(t.Context(), s.AccessHash); err == nil {
				live++
			}
		}
		if live != 1 {
			t.Errorf("after %d concurrent exclusive logins (client %t), %d families live; want 1", 2*perPool, via != nil, live)
		}
	}
}

// TestDeleteUserCascades checks in the tables themselves that deleting a user deletes
// its clients and every session of both, and nothing else.
func TestDeleteUserCascades(t *testing.T) {
	dsn := pgtest.DSN(t)
	db := MustOpen(t, dsn, nil)
	u, other := MustUser(t, db, "alice"), MustUser(t, db, "bob")
	c, oc := MustClient(t, db, u), MustClient(t, db, other)
	MustSession(t, db, u, nil, false)
	MustSession(t, db, u, c, false)
	MustSession(t, db, other, oc, false)
	if err := db.DeleteUser(t.Context(), "ALICE"); err != nil {
		t.Fatalf("DeleteUser = %v", err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{
		`SELECT count(*) FROM users WHERE id = $1`,
		`SELECT count(*) FROM clients WHERE user_id = $1`,
		`SELECT count(*) FROM sessions WHERE user_id = $1`,
	} {
		for id, want := range map[string]int{u.ID: 0, other.ID: 1} {
			var n int
			if err := conn.QueryRow(t.Context(), q, id).Scan(&n); err != nil || n != want {
				t.Errorf("%s (%s) = %d, %v; want %d", q, id, n, err, want)
			}
		}
	}
}

// TestPurgeExpiredBatches purges more sessions than one batch deletes: all expired
// ones go, the live one stays.
func TestPurgeExpiredBatches(t *testing.T) {
	const n = 2345
	clock := storetest.NewClock(time.Now())
	db := MustOpen(t, pgtest.DSN(t), clock.Now)
	u := MustUser(t, db, "alice")
	create := func() *core.Session {
		s := newSessionAt(clock.Now(), u, nil)
		if err := db.CreateSession(t.Context(), s, false); err != nil {
			t.Fatalf("CreateSession = %v", err)
		}
		return s
	}
	for range n {
		create()
	}
	clock.Add(refreshTTL)
	live := create()
	if got, err := db.PurgeExpired(t.Context()); err != nil || got != n {
		t.Fatalf("PurgeExpired() = %d, %v; want %d, nil", got, err, n)
	}
	if _, err := db.FindSessionByAccess(t.Context(), live.AccessHash); err != nil {
		t.Errorf("FindSessionByAccess(live session) after PurgeExpired = %v; want nil", err)
	}
}

// rotateUntilFailure rotates s's family in a goroutine until a rotation fails, which
// must be with ENOTFOUND, or until 5 seconds have passed, which fails the test (the
// family outlived its ending); it then sends every session it made, s included.
func rotateUntilFailure(t *testing.T, db *postgres.DB, s *core.Session) <-chan []*core.Session {
	done := make(chan []*core.Session, 1)
	deadline := time.Now().Add(5 * time.Second)
	go func() {
		made := []*core.Session{s}
		defer func() { done <- made }()
		for time.Now().Before(deadline) {
			next := newSession(nil, nil)
			_, err := db.RotateSession(context.Background(), made[len(made)-1].RefreshHash, next, false)
			if err != nil {
				if core.ErrorCode(err) != core.ENOTFOUND {
					t.Errorf("RotateSession while the family ends = %v; want ENOTFOUND", err)
				}
				return
			}
			made = append(made, next)
		}
		t.Errorf("RotateSession kept succeeding for 5 s after %d rotations; want the family ended", len(made)-1)
	}()
	return done
}

// wantEnded fails the test unless s's access token is not live.
func wantEnded(t *testing.T, db *postgres.DB, s *core.Session) {
	t.Helper()
	if _, err := db.FindSessionByAccess(t.Context(), s.AccessHash); core.ErrorCode(err) != core.ENOTFOUND {
		t.Errorf("FindSessionByAccess(ended session) = %v; want ENOTFOUND", err)
	}
}

// wantGone fails the test unless no row of s is left.
func wantGone(t *testing.T, db *postgres.DB, s *core.Session) {
	t.Helper()
	for _, hash := range [][]byte{s.AccessHash, s.RefreshHash} {
		if _, err := db.FindSessionByToken(t.Context(), hash); core.ErrorCode(err) != core.ENOTFOUND {
			t.Errorf("FindSessionByToken(ended session) = %v; want ENOTFOUND", err)
		}
	}
}

func BenchmarkFindSessionByAccess(b *testing.B) {
	db := MustOpen(b, pgtest.DSN(b), nil, postgres.WithMaxConns(8))
	s := MustSession(b, db, MustUser(b, db, "alice"), nil, false)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.FindSessionByAccess(ctx, s.AccessHash); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateSession(b *testing.B) {
	db := MustOpen(b, pgtest.DSN(b), nil, postgres.WithMaxConns(8))
	u := MustUser(b, db, "alice")
	c := MustClient(b, db, u)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if err := db.CreateSession(ctx, newSession(u, c), false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRotateSession(b *testing.B) {
	db := MustOpen(b, pgtest.DSN(b), nil, postgres.WithMaxConns(8))
	u := MustUser(b, db, "alice")
	s := MustSession(b, db, u, MustClient(b, db, u), false)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		next := newSession(nil, nil)
		if _, err := db.RotateSession(ctx, s.RefreshHash, next, false); err != nil {
			b.Fatal(err)
		}
		s = next
	}
}
