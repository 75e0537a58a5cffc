package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/core"
)

func testRotate(t *testing.T, open opener) {
	t.Run("OK", func(t *testing.T) { testRotateOK(t, open) })
	t.Run("OldAccessLives", func(t *testing.T) { testRotateOldAccessLives(t, open) })
	t.Run("ErrReused", func(t *testing.T) { testRotateErrReused(t, open) })
	t.Run("ErrNotFound", func(t *testing.T) { testRotateErrNotFound(t, open) })
	t.Run("ErrNotFoundExpired", func(t *testing.T) { testRotateErrNotFoundExpired(t, open) })
	t.Run("Exclusive", func(t *testing.T) { testRotateExclusive(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testRotateConcurrent(t, open) })
}

// testRotateOK rotates a user's own session and a client's session: next inherits the
// family, user and client, and the spent session can still be found by either token.
func testRotateOK(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser("alice", core.RolePlanAuthor)
	c := e.mustCreateClient(u)
	for _, p := range []*pair{e.mustCreateSession(u, nil, false), e.mustCreateSession(u, c, false)} {
		e.clock.Add(time.Minute)
		next := e.mustRotate(p, false)
		if s := e.wantLive("next session", next); s != nil {
			checkUser(t, "FindSessionByAccess(next).User", s.User, u)
		}
		e.clock.Add(time.Minute)
		e.wantLive("second next session", e.mustRotate(next, false))
		for _, hash := range [][]byte{p.session.AccessHash, p.session.RefreshHash} {
			s, err := e.store.FindSessionByToken(e.ctx, hash)
			if err != nil {
				t.Fatalf("FindSessionByToken(spent) = %v; want nil", err)
			}
			checkSession(t, "FindSessionByToken(spent)", s, p.session)
		}
	}
}

// testRotateOldAccessLives checks that a rotation does not end the spent pair's access
// token before it expires.
func testRotateOldAccessLives(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser("alice", core.RolePlanAuthor)
	p := e.mustCreateSession(u, nil, false)
	e.clock.Add(time.Minute)
	next := e.mustRotate(p, false)
	e.wantLive("spent pair's access token", p)
	e.clock.Add(accessTTL - time.Minute - time.Millisecond)
	e.wantLive("spent pair's access token 1 ms before its expiry", p)
	e.clock.Add(time.Millisecond)
	e.wantEnded("spent pair's access token at its expiry", p)
	e.wantLive("next pair's access token", next)
}

// testRotateErrReused spends a refresh token twice: the whole family ends, the newest
// pair included, and other families of the user stay.
func testRotateErrReused(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser("alice", core.RolePlanAuthor)
	c := e.mustCreateClient(u)
	for _, via := range []*core.Client{nil, c} {
		first := e.mustCreateSession(u, via, false)
		other := e.mustCreateSession(u, via, false)
		second := e.mustRotate(first, false)
		third := e.mustRotate(second, false)

		e.wantRotateCode("spent refresh token", first, core.EREUSED)
		for _, p := range []*pair{first, second, third} {
			e.wantEnded("pair of a reused family", p)
		}
		e.wantRotateCode("newest refresh token of a reused family", third, core.ENOTFOUND)
		e.wantRotateCode("spent refresh token, again", first, core.ENOTFOUND)
		e.wantLive("other family of the same principal", other)
		e.wantLive("next of the other family", e.mustRotate(other, false))
	}
}

func testRotateErrNotFound(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser("alice", core.RolePlanAuthor)
	e.mustCreateSession(u, nil, false)
	unknown := &pair{session: &core.Session{RefreshHash: core.HashToken(core.NewToken())}}
	e.wantRotateCode("unknown refresh token", unknown, core.ENOTFOUND)
	p := e.mustCreateSession(u, nil, false)
	accessOnly := &pair{session: &core.Session{RefreshHash: p.session.AccessHash}}
	e.wantRotateCode("an access token as refresh token", accessOnly, core.ENOTFOUND)
	e.wantLive("session whose access token was presented as refresh token", p)
}

func testRotateErrNotFoundExpired(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser("alice", core.RolePlanAuthor)
	early, late := e.mustCreateSession(u, nil, false), e.mustCreateSession(u, nil, false)
	e.clock.Add(refreshTTL - time.Millisecond)
	e.mustRotate(early, false)
	e.clock.Add(time.Millisecond)
	e.wantRotateCode("refresh token at its expiry", late, core.ENOTFOUND)
	e.clock.Add(time.Hour)
	e.wantRotateCode("refresh token after its expiry", late, core.ENOTFOUND)
}

// testRotateExclusive checks that an exclusive rotation ends the other families of the
// principal only, and keeps the spent pair's access token.
func testRotateExclusive(t *testing.T, open opener) {
	e := newEnv(t, open)
	u, other := e.mustCreateUser("alice", core.RolePlanAuthor), e.mustCreateUser("bob", core.RolePlanAuthor)
	c1, c2 := e.mustCreateClient(u), e.mustCreateClient(u)
	own, ownOther := e.mustCreateSession(u, nil, false), e.mustCreateSession(u, nil, false)
	ofC1, ofC1Other := e.mustCreateSession(u, c1, false), e.mustCreateSession(u, c1, false)
	kept := []*pair{e.mustCreateSession(u, c2, false), e.mustCreateSession(other, nil, false)}

	ownNext := e.mustRotate(own, true)
	e.wantEnded("user's other family after an exclusive rotation", ownOther)
	for _, p := range append(kept, own, ownNext, ofC1, ofC1Other) {
		e.wantLive("session after an exclusive rotation of another family", p)
	}
	c1Next := e.mustRotate(ofC1, true)
	e.wantEnded("client's other family after an exclusive rotation", ofC1Other)
	for _, p := range append(kept, own, ownNext, ofC1, c1Next) {
		e.wantLive("session after an exclusive client rotation", p)
	}
}

// testRotateConcurrent spends one refresh token from many goroutines at once: exactly
// one rotation succeeds, and the others see a reuse, which ends the family.
func testRotateConcurrent(t *testing.T, open opener) {
	const n = 20
	e := newEnv(t, open)
	u := e.mustCreateUser("alice", core.RolePlanAuthor)
	p := e.mustCreateSession(u, nil, false)
	nexts := make([]*pair, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		nexts[i] = e.newPair(nil, nil)
		wg.Go(func() {
			_, errs[i] = e.store.RotateSession(e.ctx, p.session.RefreshHash, nexts[i].session, false)
		})
	}
	wg.Wait()
	counts := map[string]int{}
	for _, err := range errs {
		counts[core.ErrorCode(err)]++
	}
	if counts[""] != 1 || counts[core.EREUSED] == 0 || counts[""]+counts[core.EREUSED]+counts[core.ENOTFOUND] != n {
		t.Fatalf("%d concurrent RotateSession: outcomes by error code %v; want 1 success, the rest %q or %q, at least one %q",
			n, counts, core.EREUSED, core.ENOTFOUND, core.EREUSED)
	}
	for _, next := range nexts {
		e.wantEnded("next pair of a family reused concurrently", next)
	}
	e.wantEnded("spent pair of a family reused concurrently", p)
}

func testRevoke(t *testing.T, open opener) {
	t.Run("OK", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.mustCreateUser("alice", core.RolePlanAuthor)
		c := e.mustCreateClient(u)
		first := e.mustCreateSession(u, c, false)
		family := []*pair{first, e.mustRotate(first, false)}
		family = append(family, e.mustRotate(family[1], false))
		kept := []*pair{e.mustCreateSession(u, c, false), e.mustCreateSession(u, nil, false)}

		for range 2 { // idempotent
			if err := e.store.RevokeFamily(e.ctx, first.session.FamilyID); err != nil {
				t.Fatalf("RevokeFamily = %v; want nil", err)
			}
		}
		for _, p := range family {
			e.wantEnded("pair of a revoked family", p)
		}
		e.wantRotateCode("newest refresh token of a revoked family", family[2], core.ENOTFOUND)
		for _, p := range kept {
			e.wantLive("other family", p)
		}
	})
	t.Run("Unknown", func(t *testing.T) {
		e := newEnv(t, open)
		if err := e.store.RevokeFamily(e.ctx, core.NewID()); err != nil {
			t.Errorf("RevokeFamily(unknown) = %v; want nil", err)
		}
	})
}

// testPurge checks that PurgeExpired deletes the sessions whose refresh token expired,
// and only those: an expired access token with a live refresh token stays.
func testPurge(t *testing.T, open opener) {
	t.Run("OK", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.mustCreateUser("alice", core.RolePlanAuthor)
		c := e.mustCreateClient(u)
		old := []*pair{e.mustCreateSession(u, nil, false), e.mustCreateSession(u, c, false)}
		e.clock.Add(time.Hour)
		old = append(old, e.mustRotate(old[0], false)) // spent old[0]; its next expires later
		young := []*pair{old[2], e.mustCreateSession(u, c, false)}
		old = old[:2]
		e.clock.Add(refreshTTL - time.Hour + time.Second) // old refresh tokens expired; young access tokens too

		n, err := e.store.PurgeExpired(e.ctx)
		if err != nil || n != len(old) {
			t.Fatalf("PurgeExpired() = %d, %v; want %d, nil", n, err, len(old))
		}
		for _, p := range old {
			_, err := e.store.FindSessionByToken(e.ctx, p.session.RefreshHash)
			wantCode(t, "FindSessionByToken(purged)", err, core.ENOTFOUND)
		}
		for _, p := range young {
			if _, err := e.store.FindSessionByToken(e.ctx, p.session.RefreshHash); err != nil {
				t.Errorf("FindSessionByToken(live refresh token) = %v; want nil", err)
			}
			e.mustRotate(p, false)
		}
		if n, err := e.store.PurgeExpired(e.ctx); err != nil || n != 0 {
			t.Errorf("PurgeExpired() again = %d, %v; want 0, nil", n, err)
		}
	})
}
