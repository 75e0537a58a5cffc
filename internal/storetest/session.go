package storetest

import (
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/core"
)

// pair is a stored session with the tokens whose hashes it holds.
type pair struct {
	session         *core.Session
	access, refresh string
}

// newPair returns an unstored session of u (through client c if not nil) that starts
// now, with fresh tokens.
func (e *env) newPair(u *core.User, c *core.Client) *pair {
	p := &pair{access: core.NewToken(), refresh: core.NewToken()}
	now := e.clock.Now()
	p.session = &core.Session{
		ID:               core.NewID(),
		AccessHash:       core.HashToken(p.access),
		RefreshHash:      core.HashToken(p.refresh),
		AccessExpiresAt:  now.Add(accessTTL),
		RefreshExpiresAt: now.Add(refreshTTL),
	}
	if u != nil {
		p.session.UserID = u.ID
		p.session.FamilyID = p.session.ID
	}
	if c != nil {
		p.session.ClientID = c.ID
	}
	return p
}

// mustCreateSession stores a new family for u, through client c if not nil.
func (e *env) mustCreateSession(u *core.User, c *core.Client, exclusive bool) *pair {
	e.t.Helper()
	p := e.newPair(u, c)
	if err := e.store.CreateSession(e.ctx, p.session, exclusive); err != nil {
		e.t.Fatalf("CreateSession(user %s, exclusive %t) = %v; want nil", u.Name, exclusive, err)
	}
	if !sameTime(p.session.CreatedAt, e.clock.Now()) {
		e.t.Errorf("CreateSession set CreatedAt %v; want %v", p.session.CreatedAt, e.clock.Now())
	}
	return p
}

// mustRotate spends p's refresh token and returns the next pair of its family.
func (e *env) mustRotate(p *pair, exclusive bool) *pair {
	e.t.Helper()
	next := e.newPair(nil, nil)
	spent, err := e.store.RotateSession(e.ctx, p.session.RefreshHash, next.session, exclusive)
	if err != nil {
		e.t.Fatalf("RotateSession(exclusive %t) = %v; want nil", exclusive, err)
	}
	checkSession(e.t, "RotateSession() spent session", spent, p.session)
	s := next.session
	if s.FamilyID != p.session.FamilyID || s.UserID != p.session.UserID || s.ClientID != p.session.ClientID {
		e.t.Errorf("RotateSession() next (family, user, client) = %q, %q, %q; want %q, %q, %q",
			s.FamilyID, s.UserID, s.ClientID, p.session.FamilyID, p.session.UserID, p.session.ClientID)
	}
	if !sameTime(s.CreatedAt, e.clock.Now()) {
		e.t.Errorf("RotateSession set next.CreatedAt %v; want %v", s.CreatedAt, e.clock.Now())
	}
	return next
}

// wantLive fails the test unless p's access token is live; it returns the session found.
func (e *env) wantLive(what string, p *pair) *core.Session {
	e.t.Helper()
	s, err := e.store.FindSessionByAccess(e.ctx, p.session.AccessHash)
	if err != nil {
		e.t.Errorf("FindSessionByAccess(%s) = %v; want nil", what, err)
		return nil
	}
	checkSession(e.t, "FindSessionByAccess("+what+")", s, p.session)
	return s
}

// wantEnded fails the test unless p's access token is not live.
func (e *env) wantEnded(what string, p *pair) {
	e.t.Helper()
	_, err := e.store.FindSessionByAccess(e.ctx, p.session.AccessHash)
	wantCode(e.t, "FindSessionByAccess("+what+")", err, core.ENOTFOUND)
}

// wantRotateCode fails the test unless spending p's refresh token fails with code and
// stores nothing.
func (e *env) wantRotateCode(what string, p *pair, code string) {
	e.t.Helper()
	next := e.newPair(nil, nil)
	_, err := e.store.RotateSession(e.ctx, p.session.RefreshHash, next.session, false)
	wantCode(e.t, "RotateSession("+what+")", err, code)
	e.wantEnded("next session of a failed rotation", next)
}

func testSession(t *testing.T, open opener) {
	t.Run("OK", func(t *testing.T) { testSessionOK(t, open) })
	t.Run("ErrNotFound", func(t *testing.T) { testSessionErrNotFound(t, open) })
	t.Run("ErrNotFoundExpired", func(t *testing.T) { testSessionErrNotFoundExpired(t, open) })
	t.Run("LiveRole", func(t *testing.T) { testSessionLiveRole(t, open) })
	t.Run("Exclusive", func(t *testing.T) { testSessionExclusive(t, open) })
}

func testSessionOK(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser(`CORP\JSmith`, core.RolePlanAuthor)
	c := e.mustCreateClient(u)
	for _, p := range []*pair{e.mustCreateSession(u, nil, false), e.mustCreateSession(u, c, false)} {
		if s := e.wantLive("new session", p); s != nil {
			checkUser(t, "FindSessionByAccess().User", s.User, u)
		}
		for _, hash := range [][]byte{p.session.AccessHash, p.session.RefreshHash} {
			s, err := e.store.FindSessionByToken(e.ctx, hash)
			if err != nil {
				t.Fatalf("FindSessionByToken = %v; want nil", err)
			}
			checkSession(t, "FindSessionByToken", s, p.session)
		}
	}
}

func testSessionErrNotFound(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser("alice", core.RolePlanAuthor)
	e.mustCreateSession(u, nil, false)
	unknown := core.HashToken(core.NewToken())
	_, err := e.store.FindSessionByAccess(e.ctx, unknown)
	wantCode(t, "FindSessionByAccess(unknown)", err, core.ENOTFOUND)
	_, err = e.store.FindSessionByToken(e.ctx, unknown)
	wantCode(t, "FindSessionByToken(unknown)", err, core.ENOTFOUND)

	ghost := &core.User{ID: core.NewID(), Name: "ghost"}
	p := e.newPair(ghost, nil)
	wantCode(t, "CreateSession(unknown user)", e.store.CreateSession(e.ctx, p.session, false), core.ENOTFOUND)
	p = e.newPair(u, &core.Client{ID: core.NewID()})
	wantCode(t, "CreateSession(unknown client)", e.store.CreateSession(e.ctx, p.session, false), core.ENOTFOUND)

	c := e.mustCreateClient(u)
	e.mustUpdateUser("alice", core.UserUpdate{Disabled: ptr(true)})
	for _, via := range []*core.Client{nil, c} {
		p = e.newPair(u, via)
		wantCode(t, "CreateSession(disabled user)", e.store.CreateSession(e.ctx, p.session, false), core.ENOTFOUND)
		e.mustUpdateUser("alice", core.UserUpdate{Disabled: ptr(false)})
		e.wantEnded("session created while its user was disabled", p)
		e.mustUpdateUser("alice", core.UserUpdate{Disabled: ptr(true)})
	}
}

func testSessionErrNotFoundExpired(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser("alice", core.RolePlanAuthor)
	p := e.mustCreateSession(u, nil, false)
	e.clock.Add(accessTTL - time.Millisecond)
	e.wantLive("access token 1 ms before its expiry", p)
	e.clock.Add(time.Millisecond)
	e.wantEnded("access token at its expiry", p)
	e.clock.Add(refreshTTL)
	for _, hash := range [][]byte{p.session.AccessHash, p.session.RefreshHash} {
		s, err := e.store.FindSessionByToken(e.ctx, hash)
		if err != nil {
			t.Fatalf("FindSessionByToken(expired) = %v; want nil", err)
		}
		checkSession(t, "FindSessionByToken(expired)", s, p.session)
	}
}

// testSessionLiveRole checks that a session reads its user's role as it is now.
func testSessionLiveRole(t *testing.T, open opener) {
	e := newEnv(t, open)
	u := e.mustCreateUser("alice", core.RolePlanOperator)
	c := e.mustCreateClient(u)
	own, client := e.mustCreateSession(u, nil, false), e.mustCreateSession(u, c, false)
	e.clock.Add(time.Second)
	want := e.mustUpdateUser("alice", core.UserUpdate{Role: ptr(core.RoleAdministrator)})
	for _, p := range []*pair{own, client} {
		if s := e.wantLive("session after a role change", p); s != nil {
			checkUser(t, "FindSessionByAccess().User after a role change", s.User, want)
		}
	}
}

// testSessionExclusive checks that an exclusive session ends the other families of its
// principal only: a user's own sessions and each of its clients are distinct principals.
func testSessionExclusive(t *testing.T, open opener) {
	e := newEnv(t, open)
	u, other := e.mustCreateUser("alice", core.RolePlanAuthor), e.mustCreateUser("bob", core.RolePlanAuthor)
	c1, c2, oc := e.mustCreateClient(u), e.mustCreateClient(u), e.mustCreateClient(other)
	own := []*pair{e.mustCreateSession(u, nil, false), e.mustCreateSession(u, nil, false)}
	own = append(own, e.mustRotate(own[0], false))
	ofC1 := []*pair{e.mustCreateSession(u, c1, false), e.mustCreateSession(u, c1, false)}
	kept := []*pair{
		e.mustCreateSession(u, c2, false), e.mustCreateSession(other, nil, false), e.mustCreateSession(other, oc, false),
	}

	newOwn := e.mustCreateSession(u, nil, true)
	for _, p := range own {
		e.wantEnded("user's other family after an exclusive user session", p)
	}
	for _, p := range append(kept, ofC1...) {
		e.wantLive("other principal's session after an exclusive user session", p)
	}
	newC1 := e.mustCreateSession(u, c1, true)
	for _, p := range ofC1 {
		e.wantEnded("client's other family after an exclusive client session", p)
	}
	for _, p := range append(kept, newOwn, newC1) {
		e.wantLive("other principal's session after an exclusive client session", p)
	}
}
