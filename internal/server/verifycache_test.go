package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vroauth/vroauth/auth"
	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/server"
	"github.com/vroauth/vroauth/internal/sqlite"
)

// countingStore counts the store's session lookups by access token.
type countingStore struct {
	*sqlite.DB // implements core.Revisioner
	finds      atomic.Int64
}

func (s *countingStore) FindSessionByAccess(ctx context.Context, hash []byte) (*core.Session, error) {
	s.finds.Add(1)
	return s.DB.FindSessionByAccess(ctx, hash)
}

// plainStore hides the Revision method of the store it wraps, as PostgreSQL's has none.
type plainStore struct {
	core.Store
}

// cacheFixture is a server on a store whose lookups are counted, with a user's token.
type cacheFixture struct {
	ctx    context.Context
	store  *countingStore
	srv    *server.Server
	user   *core.User
	token  string
	family string
}

func newCacheFixture(t testing.TB, wrap func(*countingStore) core.Store) *cacheFixture {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "vroauth.db"))
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	f := &cacheFixture{ctx: t.Context(), store: &countingStore{DB: db}}
	secrets, _ := core.NewSecretHasher([]byte(strings.Repeat("k", 32)))
	f.srv, err = server.New(server.Config{Store: wrap(f.store), Secrets: secrets, Passwords: cheap})
	if err != nil {
		t.Fatal(err)
	}
	f.user = &core.User{ID: core.NewID(), Name: "alice", PasswordHash: "h", Role: core.RolePlanAuthor}
	if err := db.CreateUser(f.ctx, f.user); err != nil {
		t.Fatalf("CreateUser = %v", err)
	}
	f.token, f.family = f.newSession(t)
	return f
}

// newSession stores a session of the user and returns its access token and family.
func (f *cacheFixture) newSession(t testing.TB) (token, family string) {
	t.Helper()
	now := time.Now()
	token = core.NewSessionToken(now)
	s := &core.Session{ID: core.NewOrderedID(now), UserID: f.user.ID, AccessHash: core.HashToken(token),
		RefreshHash: core.HashToken(core.NewSessionToken(now)), AccessExpiresAt: now.Add(time.Hour), RefreshExpiresAt: now.Add(2 * time.Hour)}
	if err := f.store.CreateSession(f.ctx, s, false); err != nil {
		t.Fatalf("CreateSession = %v", err)
	}
	return token, s.FamilyID
}

// verify checks that Verify accepts token and that the store was asked finds times in
// all.
func (f *cacheFixture) verify(t *testing.T, token string, finds int64) {
	t.Helper()
	if p, err := f.srv.Verify(f.ctx, token); err != nil || p.UserID != f.user.ID {
		t.Fatalf("Verify = %+v, %v; want the principal of %s", p, err, f.user.Name)
	}
	if got := f.store.finds.Load(); got != finds {
		t.Errorf("store lookups after Verify = %d; want %d", got, finds)
	}
}

// TestVerifyCache checks when Verify asks the store: once per token while the store's
// revision stays, again after a revocation anywhere, and every time with a store that
// has no revision.
func TestVerifyCache(t *testing.T) {
	asIs := func(s *countingStore) core.Store { return s }
	t.Run("OK", func(t *testing.T) {
		f := newCacheFixture(t, asIs)
		f.verify(t, f.token, 1)
		f.verify(t, f.token, 1)
		f.verify(t, f.token, 1)
	})
	t.Run("OKLoginKeepsEntries", func(t *testing.T) {
		f := newCacheFixture(t, asIs)
		f.verify(t, f.token, 1)
		other, _ := f.newSession(t) // a write, but no revocation
		f.verify(t, f.token, 1)
		f.verify(t, other, 2)
	})
	t.Run("OKRevocationEmptiesCache", func(t *testing.T) {
		f := newCacheFixture(t, asIs)
		_, family := f.newSession(t)
		f.verify(t, f.token, 1)
		if err := f.store.RevokeFamily(f.ctx, family); err != nil { // another session's
			t.Fatalf("RevokeFamily = %v", err)
		}
		f.verify(t, f.token, 2)
		f.verify(t, f.token, 2)
	})
	t.Run("OKNoRevision", func(t *testing.T) {
		f := newCacheFixture(t, func(s *countingStore) core.Store { return plainStore{s} })
		f.verify(t, f.token, 1)
		f.verify(t, f.token, 2)
	})
	t.Run("ErrRevoked", func(t *testing.T) {
		f := newCacheFixture(t, asIs)
		f.verify(t, f.token, 1)
		if err := f.store.RevokeFamily(f.ctx, f.family); err != nil {
			t.Fatalf("RevokeFamily = %v", err)
		}
		if p, err := f.srv.Verify(f.ctx, f.token); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("Verify(revoked token) = %+v, %v; want %v", p, err, auth.ErrInvalidToken)
		}
	})
}

// revocationFixture is a running server with a user, one of its clients, and a cached
// access token of each.
type revocationFixture struct {
	env         *Env
	path        string
	client      string
	clientCreds url.Values
	userToken   string
	clientToken string
}

func newRevocationFixture(t *testing.T) *revocationFixture {
	t.Helper()
	SkipUnlessBackend(t, "sqlite")
	f := &revocationFixture{path: filepath.Join(t.TempDir(), "vroauth.db")}
	f.env = MustServe(t, Options{Path: f.path})
	f.env.MustUser("alice", "pw-alice", core.RolePlanAuthor)
	f.userToken = f.env.MustLogin("alice", "pw-alice").AccessToken
	creds := f.env.MustCreateClient(f.userToken)
	f.client = creds.ClientId.String()
	f.clientCreds = url.Values{"grant_type": {"client_credentials"}, "client_id": {f.client}, "client_secret": {creds.ClientSecret}}
	f.clientToken = f.env.MustClientToken(creds).AccessToken
	for range 2 { // verified, and then answered from the cache
		for _, token := range []string{f.userToken, f.clientToken} {
			if got := f.env.ListStatus(token); got != 200 {
				t.Fatalf("GET Clients with a fresh token: status %d; want 200", got)
			}
		}
	}
	return f
}

// other opens a second handle on the server's database, as another server instance
// or the users command would.
func (f *revocationFixture) other(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), f.path, sqlite.WithClock(f.env.Clock.Now))
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestCacheSeesRevocations checks that cached tokens and clients are refused at once
// after each way of ending them made through another handle on the database, and that
// a role change shows at once.
func TestCacheSeesRevocations(t *testing.T) {
	yes := true
	tests := []struct {
		name          string
		end           func(t *testing.T, f *revocationFixture, db *sqlite.DB) error
		user, client  int    // the status of GET Clients with each token afterwards
		tokenGrant    string // the client_credentials answer afterwards: "" for success, else the OAuth error
		sameUserToken bool
	}{
		{"ErrClientSessionRevoked", func(t *testing.T, f *revocationFixture, db *sqlite.DB) error {
			s, err := db.FindSessionByAccess(t.Context(), core.HashToken(f.clientToken))
			if err != nil {
				return err
			}
			return db.RevokeFamily(t.Context(), s.FamilyID)
		}, 200, 401, "", true},
		{"ErrClientDeleted", func(t *testing.T, f *revocationFixture, db *sqlite.DB) error {
			return db.DeleteClient(t.Context(), f.client)
		}, 200, 401, "invalid_client", true},
		{"ErrUserDisabled", func(t *testing.T, f *revocationFixture, db *sqlite.DB) error {
			_, err := db.UpdateUser(t.Context(), "alice", core.UserUpdate{Disabled: &yes})
			return err
		}, 401, 401, "unauthorized_client", false},
		{"ErrUserDeleted", func(t *testing.T, f *revocationFixture, db *sqlite.DB) error {
			return db.DeleteUser(t.Context(), "alice")
		}, 401, 401, "invalid_client", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRevocationFixture(t)
			if err := tt.end(t, f, f.other(t)); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if got := f.env.ListStatus(f.userToken); got != tt.user {
				t.Errorf("GET Clients with the user's token: status %d; want %d", got, tt.user)
			}
			if got := f.env.ListStatus(f.clientToken); got != tt.client {
				t.Errorf("GET Clients with the client's token: status %d; want %d", got, tt.client)
			}
			r := f.env.Token(f.clientCreds)
			switch {
			case tt.tokenGrant == "" && r.JSON200 == nil:
				t.Errorf("client_credentials: status %d: %s; want 200", r.StatusCode(), r.Body)
			case tt.tokenGrant != "" && !strings.Contains(string(r.Body), `"`+tt.tokenGrant+`"`):
				t.Errorf("client_credentials: status %d: %s; want error %q", r.StatusCode(), r.Body, tt.tokenGrant)
			}
		})
	}
	t.Run("OKRoleChange", func(t *testing.T) {
		f := newRevocationFixture(t)
		role := core.RolePlanOperator
		if _, err := f.other(t).UpdateUser(t.Context(), "alice", core.UserUpdate{Role: &role}); err != nil {
			t.Fatalf("UpdateUser = %v", err)
		}
		for _, token := range []string{f.userToken, f.clientToken} {
			if p, err := f.env.Server.Verify(t.Context(), token); err != nil || p.Role != auth.RolePlanOperator {
				t.Errorf("Verify after a role change elsewhere = %+v, %v; want role %s", p, err, auth.RolePlanOperator)
			}
		}
	})
	t.Run("ErrExpired", func(t *testing.T) {
		f := newRevocationFixture(t)
		f.env.Clock.Add(server.DefaultAccessTTL)
		if got := f.env.ListStatus(f.clientToken); got != 401 {
			t.Errorf("GET Clients with a cached token at its expiry: status %d; want 401", got)
		}
	})
}

// TestCacheSeesRevocationByAnotherProcess checks that a user disabled by another
// process on the same database file, as `vroauth users disable` does, is refused at
// once although its token is cached.
func TestCacheSeesRevocationByAnotherProcess(t *testing.T) {
	if path := os.Getenv("VROAUTH_SERVER_DISABLE_CHILD"); path != "" {
		yes := true
		db, err := sqlite.Open(context.Background(), path)
		if err == nil {
			_, err = db.UpdateUser(context.Background(), "alice", core.UserUpdate{Disabled: &yes})
		}
		if err != nil {
			fmt.Println("child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	f := newRevocationFixture(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCacheSeesRevocationByAnotherProcess$")
	cmd.Env = append(os.Environ(), "VROAUTH_SERVER_DISABLE_CHILD="+f.path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	for _, token := range []string{f.userToken, f.clientToken} {
		if got := f.env.ListStatus(token); got != 401 {
			t.Errorf("GET Clients after another process disabled the user: status %d; want 401", got)
		}
	}
}
