package auth_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/vroauth/vroauth/auth"
)

// tokenServer is a fake token endpoint. Its handle function decides each answer from
// the request's number (from 1) and form; tokenServer records the requests.
type tokenServer struct {
	*httptest.Server
	handle func(n int, form url.Values) (status int, body any)

	mu   sync.Mutex
	reqs []tokenRequest
}

// tokenRequest is what the token endpoint received.
type tokenRequest struct {
	Header http.Header
	Body   string // as sent, still encoded
	Form   url.Values
}

// issue is the default answer: a token pair numbered after the request.
func issue(n int, form url.Values) (int, any) {
	return http.StatusOK, map[string]any{
		"access_token":  fmt.Sprintf("at-%d", n),
		"token_type":    "bearer",
		"expires_in":    60,
		"refresh_token": fmt.Sprintf("rt-%d", n),
	}
}

// rawBody is an answer body sent as it is, not encoded as JSON.
type rawBody string

// oauthError is an RFC 6749 error body.
func oauthError(code, description string) map[string]string {
	return map[string]string{"error": code, "error_description": description}
}

// MustTokenServer starts a tokenServer that answers with handle, or issue if nil.
func MustTokenServer(tb testing.TB, handle func(n int, form url.Values) (int, any)) *tokenServer {
	tb.Helper()
	if handle == nil {
		handle = issue
	}
	s := &tokenServer{handle: handle}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

func (s *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/token" || r.URL.RawQuery != "" {
		http.Error(w, "unexpected request", http.StatusTeapot)
		return
	}
	raw, err := io.ReadAll(r.Body)
	form, err2 := url.ParseQuery(string(raw))
	if err != nil || err2 != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, tokenRequest{Header: r.Header.Clone(), Body: string(raw), Form: form})
	n := len(s.reqs)
	s.mu.Unlock()
	status, body := s.handle(n, form)
	if status == 0 { // the handler gave up, for instance because the client left
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if raw, ok := body.(rawBody); ok {
		_, _ = io.WriteString(w, string(raw))
		return
	}
	_ = json.NewEncoder(w).Encode(body)
}

// Count returns the number of token requests so far.
func (s *tokenServer) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// Request returns token request i (from 0).
func (s *tokenServer) Request(i int) tokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[i]
}

// Grants returns the grant types of the token requests so far, with their refresh
// tokens: "client_credentials", "refresh_token:rt-1", and so on.
func (s *tokenServer) Grants() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var grants []string
	for _, r := range s.reqs {
		g := r.Form.Get("grant_type")
		if rt := r.Form.Get("refresh_token"); rt != "" {
			g += ":" + rt
		}
		grants = append(grants, g)
	}
	return grants
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// clientConfig returns the Config of a client account at s, on clock.
func clientConfig(s *tokenServer, clock *fakeClock) *auth.Config {
	return &auth.Config{
		TokenURL:     s.URL + "/api/token",
		ClientID:     "0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11",
		ClientSecret: "s3cr3t-client-secret",
		HTTPClient:   s.Client(),
		Now:          clock.Now,
	}
}
