package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/core"
)

// mustCreateClient stores a new client account of u.
func (e *env) mustCreateClient(u *core.User) *core.Client {
	e.t.Helper()
	c := &core.Client{ID: core.NewID(), UserID: u.ID, SecretHash: core.HashToken(core.NewToken())}
	if err := e.store.CreateClient(e.ctx, c); err != nil {
		e.t.Fatalf("CreateClient(owner %s) = %v; want nil", u.Name, err)
	}
	return c
}

// mustFindClient returns the client with the given ID.
func (e *env) mustFindClient(id string) *core.Client {
	e.t.Helper()
	c, err := e.store.FindClient(e.ctx, id)
	if err != nil {
		e.t.Fatalf("FindClient(%s) = %v; want nil", id, err)
	}
	return c
}

func testClient(t *testing.T, open opener) {
	t.Run("OK", func(t *testing.T) { testClientOK(t, open) })
	t.Run("ErrConflict", func(t *testing.T) { testClientErrConflict(t, open) })
	t.Run("ErrNotFound", func(t *testing.T) { testClientErrNotFound(t, open) })
	t.Run("OwnerLive", func(t *testing.T) { testClientOwnerLive(t, open) })
	t.Run("FindClientIDs", func(t *testing.T) { testClientFindIDs(t, open) })
	t.Run("Delete", func(t *testing.T) { testClientDelete(t, open) })
}

func testClientOK(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser(`CORP\JSmith`, core.RolePlanAuthor)
	c := e.mustCreateClient(u)
	if !sameTime(c.CreatedAt, start) {
		t.Errorf("CreateClient set CreatedAt %v; want %v", c.CreatedAt, start)
	}
	got := e.mustFindClient(c.ID)
	if got.ID != c.ID || got.UserID != u.ID || !bytes.Equal(got.SecretHash, c.SecretHash) || !sameTime(got.CreatedAt, start) {
		t.Errorf("FindClient(%s) = %+v; want %+v", c.ID, *got, *c)
	}
	checkUser(t, "FindClient().Owner", got.Owner, u)
}

func testClientErrConflict(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser("alice", core.RolePlanAuthor)
	c := e.mustCreateClient(u)
	dup := &core.Client{ID: c.ID, UserID: u.ID, SecretHash: core.HashToken("other")}
	wantCode(t, "CreateClient(same ID)", e.store.CreateClient(e.ctx, dup), core.ECONFLICT)
	if got := e.mustFindClient(c.ID); !bytes.Equal(got.SecretHash, c.SecretHash) {
		t.Errorf("FindClient after a conflict returned the rejected secret hash")
	}
}

func testClientErrNotFound(t *testing.T, open opener) {
	e := newEnv(t, open)
	orphan := &core.Client{ID: core.NewID(), UserID: core.NewID(), SecretHash: core.HashToken("x")}
	wantCode(t, "CreateClient(unknown owner)", e.store.CreateClient(e.ctx, orphan), core.ENOTFOUND)
	_, err := e.store.FindClient(e.ctx, orphan.ID)
	wantCode(t, "FindClient(unknown)", err, core.ENOTFOUND)
	wantCode(t, "DeleteClient(unknown)", e.store.DeleteClient(e.ctx, orphan.ID), core.ENOTFOUND)
}

// testClientOwnerLive checks that FindClient reads the owner as it is now.
func testClientOwnerLive(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser("alice", core.RolePlanOperator)
	c := e.mustCreateClient(u)
	e.clock.Add(time.Second)
	want := e.mustUpdateUser("alice", core.UserUpdate{Role: ptr(core.RoleAdministrator), Disabled: ptr(true)})
	checkUser(t, "FindClient().Owner after UpdateUser", e.mustFindClient(c.ID).Owner, want)
}

func testClientFindIDs(t *testing.T, open opener) {
	e := newEnv(t, open)
	alice, bob := e.mustCreateUser("alice", core.RolePlanAuthor), e.mustCreateUser("bob", core.RolePlanAuthor)
	nobody := e.mustCreateUser("carol", core.RolePlanAuthor)
	var want []string
	for range 5 {
		e.clock.Add(time.Second)
		want = append(want, e.mustCreateClient(alice).ID)
		e.mustCreateClient(bob)
	}
	got, err := e.store.FindClientIDs(e.ctx, alice.ID)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("FindClientIDs(alice) = %q, %v; want %q (oldest first)", got, err, want)
	}
	if got, err := e.store.FindClientIDs(e.ctx, nobody.ID); err != nil || len(got) != 0 {
		t.Errorf("FindClientIDs(user without clients) = %q, %v; want none", got, err)
	}
	if got, err := e.store.FindClientIDs(e.ctx, core.NewID()); err != nil || len(got) != 0 {
		t.Errorf("FindClientIDs(unknown user) = %q, %v; want none", got, err)
	}
}

func testClientDelete(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser("alice", core.RolePlanAuthor)
	c, sibling := e.mustCreateClient(u), e.mustCreateClient(u)
	gone := []*pair{e.mustCreateSession(u, c, false), e.mustCreateSession(u, c, false)}
	gone = append(gone, e.mustRotate(gone[0], false))
	kept := []*pair{e.mustCreateSession(u, nil, false), e.mustCreateSession(u, sibling, false)}

	if err := e.store.DeleteClient(e.ctx, c.ID); err != nil {
		t.Fatalf("DeleteClient = %v; want nil", err)
	}
	_, err := e.store.FindClient(e.ctx, c.ID)
	wantCode(t, "FindClient(deleted)", err, core.ENOTFOUND)
	for _, p := range gone {
		e.wantEnded("session of deleted client", p)
		e.wantRotateCode("session of deleted client", p, core.ENOTFOUND)
	}
	for _, p := range kept {
		e.wantLive("session of another principal", p)
	}
	if ids, err := e.store.FindClientIDs(e.ctx, u.ID); err != nil || !slices.Equal(ids, []string{sibling.ID}) {
		t.Errorf("FindClientIDs after DeleteClient = %q, %v; want [%s]", ids, err, sibling.ID)
	}
	wantCode(t, "DeleteClient(again)", e.store.DeleteClient(e.ctx, c.ID), core.ENOTFOUND)
}
