package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vroauth/vroauth/gen"
	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/postgres"
	"github.com/vroauth/vroauth/internal/postgres/pgtest"
	"github.com/vroauth/vroauth/internal/server"
	"github.com/vroauth/vroauth/internal/sqlite"
)

// The backend benchmarks compare the stores through the whole HTTP stack: the
// generated client, loopback TCP (httptest), the server's middleware and handlers, and
// the store as `vroauth serve` opens it (default options, the real clock). They run
// 32 goroutines per CPU, the 64 connections of the design's targets on two cores:
//
//	eval "$(bash .ci/postgres.sh)"
//	go test -run '^$' -bench 'Backend' -benchtime 5s ./internal/server/
//
// Each reports req/s beside ns/op. Without VROAUTH_TEST_POSTGRES the postgres
// sub-benchmarks skip.

// benchParallelism is the goroutines per CPU of b.RunParallel.
const benchParallelism = 32

// benchStores opens each backend as serve does; the PostgreSQL one in a new schema.
var benchStores = []struct {
	name string
	open func(b *testing.B) core.Store
}{
	{"sqlite", func(b *testing.B) core.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "vroauth.db"))
		if err != nil {
			b.Fatal(err)
		}
		return db
	}},
	{"postgres", func(b *testing.B) core.Store {
		db, err := postgres.Open(context.Background(), pgtest.DSN(b))
		if err != nil {
			b.Fatal(err)
		}
		return db
	}},
}

// benchEnv is a server on a store, a client account of it, and a generated client
// with enough kept-alive connections for every goroutine.
type benchEnv struct {
	client *gen.ClientWithResponses
	creds  gen.ClientCredentials
}

// newBenchEnv starts a server on store with a user and a client account.
func newBenchEnv(b *testing.B, store core.Store) *benchEnv {
	b.Helper()
	b.Cleanup(func() { store.Close() })
	secrets, err := core.NewSecretHasher([]byte(strings.Repeat("k", 32)))
	if err != nil {
		b.Fatal(err)
	}
	// The limits on failed authentications are off: they count attempts in flight,
	// so 64 concurrent correct ones from one address would be refused with 429.
	srv, err := server.New(server.Config{
		Store: store, Secrets: secrets, Logger: slog.New(slog.DiscardHandler), Passwords: cheap,
		AuthFailuresPerMinute: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(ts.Close)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}}
	b.Cleanup(hc.CloseIdleConnections)
	c, err := gen.NewClientWithResponses(ts.URL, gen.WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	u := &core.User{ID: core.NewID(), Name: "bench", PasswordHash: cheap.Hash("bench-password"), Role: core.RolePlanAuthor}
	if err := store.CreateUser(context.Background(), u); err != nil {
		b.Fatal(err)
	}
	e := &benchEnv{client: c}
	login := e.token(b, url.Values{"grant_type": {"password"}, "username": {"bench"}, "password": {"bench-password"}})
	r, err := c.CreateClientWithResponse(context.Background(), bearer(login.AccessToken))
	if err != nil || r.JSON200 == nil {
		b.Fatalf("create client: %v %v", err, r.Status())
	}
	e.creds = *r.JSON200
	return e
}

// token posts form to /api/token and returns the tokens of a 200.
func (e *benchEnv) token(tb testing.TB, form url.Values) *gen.TokenResponse {
	r, err := e.client.IssueTokenWithBodyWithResponse(context.Background(),
		"application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil || r.JSON200 == nil {
		tb.Errorf("POST /api/token: %v, %d %s", err, r.StatusCode(), r.Body)
		return nil
	}
	return r.JSON200
}

// bearer is a request editor that sends token.
func bearer(token string) gen.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// runParallel runs op from benchParallelism goroutines per CPU and reports req/s.
func runParallel(b *testing.B, op func() bool) {
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !op() {
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkBackendToken issues client_credentials tokens: a secret check (HMAC) and
// a session insert, durable before the answer.
func BenchmarkBackendToken(b *testing.B) {
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			e := newBenchEnv(b, s.open(b))
			form := url.Values{"grant_type": {"client_credentials"},
				"client_id": {e.creds.ClientId.String()}, "client_secret": {e.creds.ClientSecret}}
			runParallel(b, func() bool { return e.token(b, form) != nil })
		})
	}
}

// BenchmarkBackendListClients sends GET Clients with a client's access token: a
// session lookup (with its user) and a read of the client's own ID.
func BenchmarkBackendListClients(b *testing.B) {
	for _, s := range benchStores {
		b.Run(s.name, func(b *testing.B) {
			e := newBenchEnv(b, s.open(b))
			tok := e.token(b, url.Values{"grant_type": {"client_credentials"},
				"client_id": {e.creds.ClientId.String()}, "client_secret": {e.creds.ClientSecret}})
			if tok == nil {
				b.FailNow()
			}
			auth := bearer(tok.AccessToken)
			runParallel(b, func() bool {
				r, err := e.client.ListClientsWithResponse(context.Background(), auth)
				if err != nil || r.JSON200 == nil || len(*r.JSON200) != 1 {
					b.Errorf("GET Clients: %v, %d %s", err, r.StatusCode(), r.Body)
					return false
				}
				return true
			})
		})
	}
}

// BenchmarkBackendBare is the yardstick of the two above: a bare net/http handler
// answering [] over the same client and transport.
func BenchmarkBackendBare(b *testing.B) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[]"))
	}))
	defer ts.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}}
	defer hc.CloseIdleConnections()
	c, err := gen.NewClientWithResponses(ts.URL, gen.WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	runParallel(b, func() bool {
		r, err := c.ListClientsWithResponse(context.Background())
		if err != nil || r.JSON200 == nil {
			b.Errorf("GET bare: %v, %d", err, r.StatusCode())
			return false
		}
		return true
	})
}
