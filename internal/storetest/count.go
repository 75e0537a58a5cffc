package storetest

import (
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/core"
)

// testCount checks CountSessions: one per live family, whatever its rotations; an
// expired access token does not end a session, an expired refresh token does.
func testCount(t *testing.T, open opener) {
	t.Run("OK", func(t *testing.T) {
		e := newEnv(t, open)
		e.wantCount("empty store", 0)
		u := e.mustCreateUser("alice", core.RolePlanAuthor)
		c := e.mustCreateClient(u)
		own := e.mustCreateSession(u, nil, false)
		e.mustCreateSession(u, c, false)
		e.wantCount("two families", 2)
		next := e.mustRotate(own, false)
		e.mustRotate(next, false)
		e.wantCount("two families, one rotated twice", 2)
		if err := e.store.RevokeFamily(e.ctx, own.session.FamilyID); err != nil {
			t.Fatalf("RevokeFamily = %v; want nil", err)
		}
		e.wantCount("after revoking a family", 1)
		e.clock.Add(accessTTL + time.Second)
		e.wantCount("access token expired, refresh token live", 1)
		e.clock.Add(refreshTTL)
		e.wantCount("refresh token expired", 0)
	})
	t.Run("UserDisabled", func(t *testing.T) {
		e := newEnv(t, open)
		u := e.mustCreateUser("alice", core.RolePlanAuthor)
		e.mustCreateSession(u, nil, false)
		e.mustCreateSession(u, e.mustCreateClient(u), false)
		e.mustUpdateUser("alice", core.UserUpdate{Disabled: ptr(true)})
		e.wantCount("user disabled", 0)
	})
}

// wantCount fails the test unless CountSessions returns want.
func (e *env) wantCount(what string, want int) {
	e.t.Helper()
	if n, err := e.store.CountSessions(e.ctx); n != want || err != nil {
		e.t.Errorf("CountSessions(%s) = %d, %v; want %d, nil", what, n, err, want)
	}
}
