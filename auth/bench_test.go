package auth_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vroauth/vroauth/auth"
)

const benchToken = "kD8sV1qN4bZ7xC0mW3eR6tY9uI2oP5aS8dF1gH4jK7l"

// discardWriter is a ResponseWriter that keeps nothing, so that the benchmarks
// measure the middleware rather than a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkMiddleware measures the bearer check of a valid token with a warm
// in-memory verifier: a map behind a read lock, as a cache in front of a store is.
func BenchmarkMiddleware(b *testing.B) {
	var mu sync.RWMutex
	sessions := map[string]*auth.Principal{benchToken: jsmith}
	verifier := auth.VerifierFunc(func(_ context.Context, token string) (*auth.Principal, error) {
		mu.RLock()
		p, ok := sessions[token]
		mu.RUnlock()
		if !ok {
			return nil, auth.ErrInvalidToken
		}
		return p, nil
	})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth.FromContext(r.Context()); !ok {
			b.Fatal("no principal")
		}
	})
	h := auth.Middleware(verifier)(next)
	req := httptest.NewRequest(http.MethodGet, "/api/v7.1/Clients", nil)
	req.Header.Set("Authorization", "Bearer "+benchToken)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// BenchmarkTransport measures the transport with a valid cached token, in front of a
// base that answers at once with a canned response: the transport's own overhead.
func BenchmarkTransport(b *testing.B) {
	canned := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(""))}
	base := roundTripFunc(func(*http.Request) (*http.Response, error) { return canned, nil })
	saved := &auth.Token{AccessToken: benchToken, TokenType: "bearer", Expiry: time.Now().Add(time.Hour)}
	src := (&auth.Config{TokenURL: "http://127.0.0.1:1/api/token"}).TokenSource(saved)
	tr := &auth.Transport{Source: src, Base: base}
	req, _ := http.NewRequest(http.MethodGet, "https://vro.example.com:9898/api/v7.1/Clients", nil)
	req.Header.Set("Accept", "application/json")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.RoundTrip(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransportOAuth2Style measures, for comparison, the per-request work of
// golang.org/x/oauth2's Transport with a valid token: req.Clone and Header.Set.
func BenchmarkTransportOAuth2Style(b *testing.B) {
	req, _ := http.NewRequest(http.MethodGet, "https://vro.example.com:9898/api/v7.1/Clients", nil)
	req.Header.Set("Accept", "application/json")
	tok := &auth.Token{AccessToken: benchToken}
	b.ReportAllocs()
	for b.Loop() {
		r := req.Clone(req.Context())
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		benchSink = r
	}
}

// BenchmarkMiddlewareFloor measures, for comparison, the least work of any middleware
// that passes a value to the next handler: context.WithValue and Request.WithContext.
func BenchmarkMiddlewareFloor(b *testing.B) {
	req := httptest.NewRequest(http.MethodGet, "/api/v7.1/Clients", nil)
	b.ReportAllocs()
	for b.Loop() {
		benchSink = req.WithContext(context.WithValue(req.Context(), floorKey{}, jsmith))
	}
}

type floorKey struct{}

var benchSink *http.Request
