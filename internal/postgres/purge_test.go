package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/postgres"
	"github.com/vroauth/vroauth/internal/postgres/pgtest"
	"github.com/vroauth/vroauth/internal/storetest"
)

// TestPurgeDuringTraffic runs PurgeExpired from two pools at once, twice in each, as
// the purge loops of several server instances do, while the same database serves
// rotations, lookups, and writes that delete expired rows of their own: exclusive
// logins and a password change (which ends every session of its user).
// Every operation succeeds (no deadlock, no lock timeout), every purger ends, each
// expired session is deleted once, and no live session is touched.
func TestPurgeDuringTraffic(t *testing.T) {
	const expired, rotators, rotations, logins = 6000, 4, 40, 40
	clock := storetest.NewClock(time.Now())
	dsn := pgtest.DSN(t)
	a := MustOpen(t, dsn, clock.Now, postgres.WithMaxConns(8))
	b := MustOpen(t, dsn, clock.Now, postgres.WithMaxConns(8))
	pools := []*postgres.DB{a, b}
	alice, bob, carol := MustUser(t, a, "alice"), MustUser(t, a, "bob"), MustUser(t, a, "carol")
	bobClient := MustClient(t, a, bob)

	// Expired sessions: alice's own, which only a purge deletes; bob's client's, which
	// an exclusive login of that client deletes too; carol's own, which her password
	// change deletes too.
	mustCreate := func(db *postgres.DB, s *core.Session, exclusive bool) {
		t.Helper()
		if err := db.CreateSession(context.Background(), s, exclusive); err != nil {
			t.Fatalf("CreateSession = %v", err)
		}
	}
	var setup sync.WaitGroup
	for w := range 8 {
		setup.Go(func() {
			for i := w; i < expired; i += 8 {
				owner, via := []*core.User{alice, bob, carol}[i%3], []*core.Client{nil, bobClient, nil}[i%3]
				if err := a.CreateSession(context.Background(), newSessionAt(clock.Now(), owner, via), false); err != nil {
					t.Errorf("CreateSession = %v", err)
					return
				}
			}
		})
	}
	setup.Wait()
	if t.Failed() {
		t.FailNow()
	}
	clock.Add(refreshTTL + time.Second)
	live := newSessionAt(clock.Now(), alice, nil)
	mustCreate(a, live, false)

	var (
		wg     sync.WaitGroup
		purged atomic.Int64
		done   = make(chan struct{})
	)
	var purgers sync.WaitGroup
	for i := range 4 {
		purgers.Go(func() {
			n, err := pools[i%2].PurgeExpired(context.Background())
			if err != nil {
				t.Errorf("PurgeExpired during traffic = %d, %v; want nil error", n, err)
			}
			purged.Add(int64(n))
		})
	}
	for i := range rotators {
		s := newSessionAt(clock.Now(), alice, nil)
		mustCreate(a, s, false)
		wg.Go(func() {
			for j := range rotations {
				next := newSessionAt(clock.Now(), nil, nil)
				if _, err := pools[(i+j)%2].RotateSession(context.Background(), s.RefreshHash, next, false); err != nil {
					t.Errorf("RotateSession during a purge = %v; want nil", err)
					return
				}
				s = next
			}
			if _, err := a.FindSessionByAccess(context.Background(), s.AccessHash); err != nil {
				t.Errorf("FindSessionByAccess(rotated session) after the purge = %v; want nil", err)
			}
		})
	}
	wg.Go(func() {
		for j := range logins {
			mustCreate(pools[j%2], newSessionAt(clock.Now(), bob, bobClient), true)
		}
	})
	wg.Go(func() {
		hash := "$argon2id$changed"
		if _, err := b.UpdateUser(context.Background(), carol.Name, core.UserUpdate{PasswordHash: &hash}); err != nil {
			t.Errorf("UpdateUser(password) during a purge = %v; want nil", err)
		}
	})
	wg.Go(func() {
		for j := 0; ; j++ {
			select {
			case <-done:
				return
			default:
			}
			if _, err := pools[j%2].FindSessionByAccess(context.Background(), live.AccessHash); err != nil {
				t.Errorf("FindSessionByAccess(live session) during a purge = %v; want nil", err)
				return
			}
		}
	})
	purgers.Wait()
	close(done)
	wg.Wait()

	if n := purged.Load(); n < expired/3 || n > expired {
		t.Errorf("sessions purged by 4 concurrent PurgeExpired = %d; want %d to %d (each expired one once)", n, expired/3, expired)
	}
	if n, err := a.PurgeExpired(context.Background()); err != nil || n != 0 {
		t.Errorf("PurgeExpired after the concurrent purges = %d, %v; want 0, nil", n, err)
	}
	if n := countSessions(t, dsn); n != 1+rotators*(rotations+1)+1 {
		t.Errorf("sessions left = %d; want %d (the live one, the rotated families, bob's last login)", n, 1+rotators*(rotations+1)+1)
	}
}

// countSessions returns the number of rows in the sessions table of dsn.
func countSessions(t *testing.T, dsn string) int {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM sessions`).Scan(&n); err != nil {
		t.Fatalf("count sessions: %v", err)
	}
	return n
}
