package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/core"
)

// mustCreateUser stores a user with the given name and role.
func (e *env) mustCreateUser(name string, role core.Role) *core.User {
	e.t.Helper()
	u := &core.User{ID: core.NewID(), Name: name, PasswordHash: "$argon2id$" + name, Role: role}
	if err := e.store.CreateUser(e.ctx, u); err != nil {
		e.t.Fatalf("CreateUser(%q) = %v; want nil", name, err)
	}
	return u
}

// mustUpdateUser applies upd to the named user.
func (e *env) mustUpdateUser(name string, upd core.UserUpdate) *core.User {
	e.t.Helper()
	u, err := e.store.UpdateUser(e.ctx, name, upd)
	if err != nil {
		e.t.Fatalf("UpdateUser(%q) = %v; want nil", name, err)
	}
	return u
}

func testUser(t *testing.T, open opener) {
	t.Run("OK", func(t *testing.T) { testUserOK(t, open) })
	t.Run("ErrConflict", func(t *testing.T) { testUserErrConflict(t, open) })
	t.Run("ErrNotFound", func(t *testing.T) { testUserErrNotFound(t, open) })
	t.Run("List", func(t *testing.T) { testUserList(t, open) })
	t.Run("Update", func(t *testing.T) { testUserUpdate(t, open) })
	t.Run("DisableEndsSessions", func(t *testing.T) {
		testUserEndsSessions(t, open, core.UserUpdate{Disabled: ptr(true)})
	})
	t.Run("PasswordEndsSessions", func(t *testing.T) {
		testUserEndsSessions(t, open, core.UserUpdate{PasswordHash: ptr("$argon2id$new")})
	})
	t.Run("Delete", func(t *testing.T) { testUserDelete(t, open) })
}

func ptr[T any](v T) *T { return &v }

func testUserOK(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser(`CORP\JSmith`, core.RolePlanAuthor)
	if !sameTime(u.CreatedAt, start) || !sameTime(u.UpdatedAt, start) {
		t.Errorf("CreateUser set times %v, %v; want %v", u.CreatedAt, u.UpdatedAt, start)
	}
	want := *u
	for _, name := range []string{`CORP\JSmith`, `corp\jsmith`, `CORP\JSMITH`} {
		got, err := e.store.FindUserByName(e.ctx, name)
		if err != nil {
			t.Fatalf("FindUserByName(%q) = %v; want nil", name, err)
		}
		checkUser(t, "FindUserByName("+name+")", got, &want)
	}
}

func testUserErrConflict(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser(`CORP\JSmith`, core.RolePlanAuthor)
	dup := &core.User{ID: core.NewID(), Name: `corp\JSMITH`, PasswordHash: "x", Role: core.RoleAdministrator}
	wantCode(t, "CreateUser(same name, other case)", e.store.CreateUser(e.ctx, dup), core.ECONFLICT)
	sameID := &core.User{ID: u.ID, Name: "other", PasswordHash: "x", Role: core.RoleAdministrator}
	wantCode(t, "CreateUser(same ID)", e.store.CreateUser(e.ctx, sameID), core.ECONFLICT)
	if n, err := e.store.CountUsers(e.ctx); err != nil || n != 1 {
		t.Errorf("CountUsers() = %d, %v; want 1, nil", n, err)
	}
	got, err := e.store.FindUserByName(e.ctx, u.Name)
	if err != nil {
		t.Fatalf("FindUserByName(%q) = %v; want nil", u.Name, err)
	}
	checkUser(t, "FindUserByName after conflict", got, u)
}

func testUserErrNotFound(t *testing.T, open opener) {
	e := newEnv(t, open)
	e.mustCreateUser("alice", core.RolePlanOperator)
	_, err := e.store.FindUserByName(e.ctx, "bob")
	wantCode(t, "FindUserByName(bob)", err, core.ENOTFOUND)
	_, err = e.store.UpdateUser(e.ctx, "bob", core.UserUpdate{Role: ptr(core.RoleAdministrator)})
	wantCode(t, "UpdateUser(bob)", err, core.ENOTFOUND)
	wantCode(t, "DeleteUser(bob)", e.store.DeleteUser(e.ctx, "bob"), core.ENOTFOUND)
}

func testUserList(t *testing.T, open opener) {
	e := newEnv(t, open)
	if users, err := e.store.FindUsers(e.ctx); err != nil || len(users) != 0 {
		t.Errorf("FindUsers() on an empty store = %d users, %v; want 0, nil", len(users), err)
	}
	if n, err := e.store.CountUsers(e.ctx); err != nil || n != 0 {
		t.Errorf("CountUsers() on an empty store = %d, %v; want 0, nil", n, err)
	}
	for _, name := range []string{"bob", `CORP\Zed`, "Alice", `corp\adam`} {
		e.mustCreateUser(name, core.RolePlanOperator)
	}
	users, err := e.store.FindUsers(e.ctx)
	if err != nil {
		t.Fatalf("FindUsers() = %v; want nil", err)
	}
	want := []string{"Alice", "bob", `corp\adam`, `CORP\Zed`}
	var got []string
	for _, u := range users {
		got = append(got, u.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("FindUsers() names = %q; want %q", got, want)
	}
	if n, err := e.store.CountUsers(e.ctx); err != nil || n != 4 {
		t.Errorf("CountUsers() = %d, %v; want 4, nil", n, err)
	}
}

func testUserUpdate(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser(`CORP\JSmith`, core.RolePlanOperator)
	want := *u
	tests := []struct {
		name string
		upd  core.UserUpdate
		set  func(*core.User)
	}{
		{"nothing", core.UserUpdate{}, func(*core.User) {}},
		{"role", core.UserUpdate{Role: ptr(core.RoleAdministrator)}, func(u *core.User) { u.Role = core.RoleAdministrator }},
		{"disable", core.UserUpdate{Disabled: ptr(true)}, func(u *core.User) { u.Disabled = true }},
		{"enable", core.UserUpdate{Disabled: ptr(false)}, func(u *core.User) { u.Disabled = false }},
		{"password", core.UserUpdate{PasswordHash: ptr("$argon2id$2")}, func(u *core.User) { u.PasswordHash = "$argon2id$2" }},
		{"all", core.UserUpdate{Role: ptr(core.RolePlanAuthor), Disabled: ptr(true), PasswordHash: ptr("$argon2id$3")},
			func(u *core.User) { u.Role, u.Disabled, u.PasswordHash = core.RolePlanAuthor, true, "$argon2id$3" }},
	}
	for _, tt := range tests {
		e.clock.Add(time.Minute)
		tt.set(&want)
		want.UpdatedAt = e.clock.Now()
		got := e.mustUpdateUser(`corp\JSMITH`, tt.upd)
		checkUser(t, "UpdateUser("+tt.name+")", got, &want)
		found, err := e.store.FindUserByName(e.ctx, u.Name)
		if err != nil {
			t.Fatalf("FindUserByName(%q) = %v; want nil", u.Name, err)
		}
		checkUser(t, "FindUserByName after UpdateUser("+tt.name+")", found, &want)
	}
}

// testUserEndsSessions checks that upd ends the sessions of the user and of its clients
// for good, and leaves other users' sessions alone.
func testUserEndsSessions(t *testing.T, open opener, upd core.UserUpdate) {
	e := newEnv(t, open)
	u := e.mustCreateUser("alice", core.RolePlanAuthor)
	c := e.mustCreateClient(u)
	other := e.mustCreateUser("bob", core.RolePlanAuthor)
	own, client := e.mustCreateSession(u, nil, false), e.mustCreateSession(u, c, false)
	kept := e.mustCreateSession(other, nil, false)

	e.mustUpdateUser("ALICE", upd)
	e.mustUpdateUser("alice", core.UserUpdate{Disabled: ptr(false)})
	e.wantEnded("user's own session", own)
	e.wantEnded("client's session", client)
	e.wantRotateCode("user's own session", own, core.ENOTFOUND)
	e.wantRotateCode("client's session", client, core.ENOTFOUND)
	e.wantLive("other user's session", kept)
	e.wantLive("new session", e.mustCreateSession(u, c, false))
}

func testUserDelete(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser(`CORP\JSmith`, core.RolePlanAuthor)
	c := e.mustCreateClient(u)
	other := e.mustCreateUser("bob", core.RolePlanAuthor)
	otherClient := e.mustCreateClient(other)
	own, client := e.mustCreateSession(u, nil, false), e.mustCreateSession(u, c, false)
	kept := e.mustCreateSession(other, otherClient, false)

	if err := e.store.DeleteUser(e.ctx, `corp\jsmith`); err != nil {
		t.Fatalf("DeleteUser = %v; want nil", err)
	}
	_, err := e.store.FindUserByName(e.ctx, u.Name)
	wantCode(t, "FindUserByName(deleted)", err, core.ENOTFOUND)
	_, err = e.store.FindClient(e.ctx, c.ID)
	wantCode(t, "FindClient(client of deleted user)", err, core.ENOTFOUND)
	for _, p := range []*pair{own, client} {
		e.wantEnded("session of deleted user", p)
		_, err := e.store.FindSessionByToken(e.ctx, p.session.RefreshHash)
		wantCode(t, "FindSessionByToken(session of deleted user)", err, core.ENOTFOUND)
	}
	e.wantLive("other user's client session", kept)
	if ids, err := e.store.FindClientIDs(e.ctx, other.ID); err != nil || len(ids) != 1 {
		t.Errorf("FindClientIDs(other user) = %q, %v; want 1 ID", ids, err)
	}
	wantCode(t, "DeleteUser(again)", e.store.DeleteUser(e.ctx, u.Name), core.ENOTFOUND)
	e.mustCreateUser(`corp\jsmith`, core.RolePlanOperator) // the name is free again
}
