package server_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vroauth/vroauth/auth"
	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/server"
)

// The hot-path benchmarks measure the server in process, without a network, on an
// on-disk SQLite store (make bench runs them):
//
//	go test -run '^$' -bench 'BearerCheck|ServeProtected' -benchmem ./internal/server/

// nopWriter is a ResponseWriter that keeps nothing, so that a benchmark measures the
// handler rather than a recorder.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkBearerCheck measures the bearer middleware with the server as its
// verifier, for a valid token seen before: "cached" with the SQLite store as it is,
// "uncached" with its Revision hidden, so that every check is a query (as with
// PostgreSQL).
func BenchmarkBearerCheck(b *testing.B) {
	for _, tt := range []struct {
		name string
		wrap func(*countingStore) core.Store
	}{
		{"cached", func(s *countingStore) core.Store { return s }},
		{"uncached", func(s *countingStore) core.Store { return plainStore{s} }},
	} {
		b.Run(tt.name, func(b *testing.B) {
			f := newCacheFixture(b, tt.wrap)
			ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, found := auth.FromContext(r.Context()); !found {
					b.Fatal("no principal")
				}
			})
			h := auth.Middleware(f.srv, auth.WithRealm(server.Realm))(ok)
			req := httptest.NewRequest(http.MethodGet, "/api/v7.1/Clients", nil)
			req.Header.Set("Authorization", "Bearer "+f.token)
			w := &nopWriter{h: http.Header{}}
			h.ServeHTTP(w, req) // warm
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkServeProtected measures the whole handler stack for GET Clients with a
// client's valid access token: routing, logging, metrics, the bearer check and the
// answer, as one request of the protected load scenario costs the server, without
// the network.
func BenchmarkServeProtected(b *testing.B) {
	env := MustServe(b, Options{})
	env.MustUser("alice", "pw-alice", core.RolePlanAuthor)
	userToken := env.MustLogin("alice", "pw-alice").AccessToken
	token := env.MustClientToken(env.MustCreateClient(userToken)).AccessToken
	srv, err := server.New(server.Config{Store: env.Store, Secrets: env.Secrets, Logger: slog.New(slog.DiscardHandler),
		Now: env.Clock.Now, Passwords: cheap})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	req := httptest.NewRequest(http.MethodGet, "/api/v7.1/Clients", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := &nopWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

// BenchmarkServeToken measures the whole handler stack for a client_credentials
// grant, one at a time: each waits for its own durable commit (an fsync), which
// concurrent grants share (see internal/sqlite's group commit).
func BenchmarkServeToken(b *testing.B) {
	env := MustServe(b, Options{})
	env.MustUser("alice", "pw-alice", core.RolePlanAuthor)
	creds := env.MustCreateClient(env.MustLogin("alice", "pw-alice").AccessToken)
	srv, err := server.New(server.Config{Store: env.Store, Secrets: env.Secrets, Logger: slog.New(slog.DiscardHandler),
		Now: time.Now, Passwords: cheap, AuthFailuresPerMinute: -1})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	body := "grant_type=client_credentials&client_id=" + creds.ClientId.String() + "&client_secret=" + creds.ClientSecret
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}
