package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vroauth/vroauth/gen"
	"github.com/vroauth/vroauth/internal/apitest"
	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/server"
	"github.com/vroauth/vroauth/internal/sqlite"
	"github.com/vroauth/vroauth/internal/storetest"
)

// cheap is a password hasher fast enough for tests; the server reads the cost from
// each stored hash, so nothing else changes.
var cheap = core.PasswordHasher{Time: 1, Memory: 64, Threads: 1}

// Clock is the tests' manual clock: Now reads it, Add moves it.
type Clock = storetest.Clock

// Env is a running server with its store and clock.
type Env struct {
	tb      testing.TB
	Store   core.Store
	Server  *server.Server
	Secrets *core.SecretHasher // the server's hasher of client secrets
	HTTP    *httptest.Server
	Clock   *Clock
	Logs    *strings.Builder

	// HTTPClient sends through apitest's validating transport: every request and
	// response of a contract operation is checked against api/openapi.yaml, and a
	// violation fails the test.
	HTTPClient *http.Client
}

// Options change how MustServe builds the server.
type Options struct {
	SingleSession    bool
	ValidateRequests bool   // the server checks requests against the contract (--validate-requests)
	Path             string // the database file; default a new one in a temporary directory
	// Configure, when set, changes the server's configuration before it is built.
	Configure func(*server.Config)
	// Open, when set, opens the store instead of OpenStore; it is closed when the test
	// ends. Wrap, when set, wraps the store the server uses.
	Open func(core.Clock) core.Store
	Wrap func(core.Store) core.Store
}

// OpenStore opens the store the server tests run on: SQLite on disk, the default, or
// PostgreSQL with VROAUTH_TEST_BACKEND=postgres (see backend_test.go).
var OpenStore = func(tb testing.TB, path string, now core.Clock) core.Store {
	tb.Helper()
	switch backend() {
	case "postgres":
		return openPostgres(tb, path, now)
	case "sqlite":
	default:
		tb.Fatalf("%s=%q; want sqlite or postgres", EnvBackend, backend())
	}
	db, err := sqlite.Open(context.Background(), path, sqlite.WithClock(now))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	return db
}

// MustServe starts a server on a fresh on-disk database.
func MustServe(tb testing.TB, opts Options) *Env {
	tb.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(tb.TempDir(), "vroauth.db")
	}
	clock := storetest.NewClock(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	var store core.Store
	if opts.Open != nil {
		store = opts.Open(clock.Now)
	} else {
		store = OpenStore(tb, opts.Path, clock.Now)
	}
	tb.Cleanup(func() { store.Close() })
	if opts.Wrap != nil {
		store = opts.Wrap(store)
	}
	secrets, err := core.NewSecretHasher([]byte(strings.Repeat("k", 32)))
	if err != nil {
		tb.Fatal(err)
	}
	logs := &strings.Builder{}
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := server.Config{
		Store: store, Secrets: secrets, Logger: logger, Now: clock.Now,
		SingleSession: opts.SingleSession, Passwords: cheap, ValidateRequests: opts.ValidateRequests,
	}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(ts.Close)
	return &Env{tb: tb, Store: store, Server: srv, Secrets: secrets, HTTP: ts, Clock: clock, Logs: logs,
		HTTPClient: apitest.Client(tb, ts.Client().Transport, apitest.WithRoutePath(apitest.VersionAliases))}
}

// Do sends req through the validating client.
func (e *Env) Do(req *http.Request) (*http.Response, error) {
	return e.HTTPClient.Do(req)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

// MustUser creates a user with the given password and role.
func (e *Env) MustUser(name, password string, role core.Role) *core.User {
	e.tb.Helper()
	u := &core.User{ID: core.NewID(), Name: name, PasswordHash: cheap.Hash(password), Role: role}
	if err := e.Store.CreateUser(context.Background(), u); err != nil {
		e.tb.Fatalf("create user %s: %v", name, err)
	}
	return u
}

// Client returns a generated client that sends token as its bearer token ("" sends
// none).
func (e *Env) Client(token string) *gen.ClientWithResponses {
	e.tb.Helper()
	c, err := gen.NewClientWithResponses(e.HTTP.URL, gen.WithHTTPClient(e.HTTPClient), gen.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		return nil
	}))
	if err != nil {
		e.tb.Fatal(err)
	}
	return c
}

// Token calls POST /api/token with form.
func (e *Env) Token(form url.Values) *gen.IssueTokenResponse {
	e.tb.Helper()
	r, err := e.Client("").IssueTokenWithBodyWithResponse(context.Background(),
		"application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		e.tb.Fatalf("POST /api/token: %v", err)
	}
	return r
}

// MustLogin returns the tokens of a password grant.
func (e *Env) MustLogin(name, password string) gen.TokenResponse {
	e.tb.Helper()
	r := e.Token(url.Values{"grant_type": {"password"}, "username": {name}, "password": {password}})
	if r.JSON200 == nil {
		e.tb.Fatalf("login %s: status %d: %s", name, r.StatusCode(), r.Body)
	}
	return *r.JSON200
}

// MustCreateClient creates a client account with the given user token.
func (e *Env) MustCreateClient(token string) gen.ClientCredentials {
	e.tb.Helper()
	r, err := e.Client(token).CreateClientWithResponse(context.Background())
	if err != nil || r.JSON200 == nil {
		e.tb.Fatalf("create client: %v status %d: %s", err, r.StatusCode(), r.Body)
	}
	return *r.JSON200
}

// MustClientToken returns the tokens of a client_credentials grant.
func (e *Env) MustClientToken(c gen.ClientCredentials) gen.TokenResponse {
	e.tb.Helper()
	r := e.Token(url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientId.String()}, "client_secret": {c.ClientSecret}})
	if r.JSON200 == nil {
		e.tb.Fatalf("client token: status %d: %s", r.StatusCode(), r.Body)
	}
	return *r.JSON200
}

// ListStatus returns the status of GET Clients with token.
func (e *Env) ListStatus(token string) int {
	e.tb.Helper()
	r, err := e.Client(token).ListClientsWithResponse(context.Background())
	if err != nil {
		e.tb.Fatal(err)
	}
	return r.StatusCode()
}
