package storetest

import (
	"testing"

	"github.com/vroauth/vroauth/internal/core"
)

// testRevision checks core.Revisioner on the stores that implement it: every write
// that can end a live access token or change what it grants changes the revision, and
// the writes that cannot leave it alone (a cache in front of the store would
// otherwise be emptied by every login).
func testRevision(t *testing.T, open opener) {
	if _, ok := open(t, NewClock(start).Now).(core.Revisioner); !ok {
		t.Skip("the store does not implement core.Revisioner")
	}
	// revFixture is what each case starts from: a user with a client, and a session of
	// each.
	type revFixture struct {
		user                       *core.User
		client                     *core.Client
		userSession, clientSession *pair
	}
	role, yes := core.RolePlanOperator, true
	password := "new hash"
	tests := []struct {
		name    string
		write   func(e *env, f *revFixture) error
		changes bool
	}{
		{"Logout", func(e *env, f *revFixture) error { return e.store.RevokeFamily(e.ctx, f.userSession.session.FamilyID) }, true},
		{"DeleteClient", func(e *env, f *revFixture) error { return e.store.DeleteClient(e.ctx, f.client.ID) }, true},
		{"DisableUser", func(e *env, f *revFixture) error {
			_, err := e.store.UpdateUser(e.ctx, f.user.Name, core.UserUpdate{Disabled: &yes})
			return err
		}, true},
		{"ChangeRole", func(e *env, f *revFixture) error {
			_, err := e.store.UpdateUser(e.ctx, f.user.Name, core.UserUpdate{Role: &role})
			return err
		}, true},
		{"ChangePassword", func(e *env, f *revFixture) error {
			_, err := e.store.UpdateUser(e.ctx, f.user.Name, core.UserUpdate{PasswordHash: &password})
			return err
		}, true},
		{"DeleteUser", func(e *env, f *revFixture) error { return e.store.DeleteUser(e.ctx, f.user.Name) }, true},
		{"ExclusiveLogin", func(e *env, f *revFixture) error {
			return e.store.CreateSession(e.ctx, e.newPair(f.user, nil).session, true) // ends userSession
		}, true},
		{"RefreshTokenReuse", func(e *env, f *revFixture) error {
			e.mustRotate(f.clientSession, false)
			_, err := e.store.RotateSession(e.ctx, f.clientSession.session.RefreshHash, e.newPair(nil, nil).session, false)
			wantCode(e.t, "RotateSession(spent token)", err, core.EREUSED)
			return nil
		}, true},
		{"Purge", func(e *env, f *revFixture) error {
			e.clock.Add(refreshTTL)
			_, err := e.store.PurgeExpired(e.ctx)
			return err
		}, true},
		{"Login", func(e *env, f *revFixture) error {
			return e.store.CreateSession(e.ctx, e.newPair(f.user, f.client).session, false)
		}, false},
		{"Refresh", func(e *env, f *revFixture) error {
			e.mustRotate(f.clientSession, false)
			return nil
		}, false},
		{"CreateClient", func(e *env, f *revFixture) error {
			e.mustCreateClient(f.user)
			return nil
		}, false},
		{"CreateUser", func(e *env, f *revFixture) error {
			e.mustCreateUser("bob", core.RolePlanAuthor)
			return nil
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, open)
			u := e.mustCreateUser("alice", core.RolePlanAuthor)
			c := e.mustCreateClient(u)
			f := &revFixture{user: u, client: c,
				userSession: e.mustCreateSession(u, nil, false), clientSession: e.mustCreateSession(u, c, false)}
			revs := e.store.(core.Revisioner)
			before, err := revs.Revision(e.ctx)
			if err != nil {
				t.Fatalf("Revision() = %v; want nil", err)
			}
			if again, err := revs.Revision(e.ctx); again != before || err != nil {
				t.Fatalf("Revision() twice = %d, then %d, %v; want the same, nil", before, again, err)
			}
			if err := tt.write(e, f); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			after, err := revs.Revision(e.ctx)
			if err != nil {
				t.Fatalf("Revision() after %s = %v; want nil", tt.name, err)
			}
			if changed := after != before; changed != tt.changes {
				t.Errorf("Revision() before and after %s = %d, %d; want changed = %t", tt.name, before, after, tt.changes)
			}
		})
	}
}
