package auth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vroauth/vroauth/auth"
)

// roundTripFunc is a fake base RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// trackedBody is a request or response body that records whether it was closed.
type trackedBody struct {
	io.Reader
	closed atomic.Bool
}

func newTrackedBody(s string) *trackedBody { return &trackedBody{Reader: strings.NewReader(s)} }

func (b *trackedBody) Close() error {
	b.closed.Store(true)
	return nil
}

// api is a fake resource server: it answers 401 with challenge to the tokens in
// rejected and 200 to the others, and records what it received.
type api struct {
	rejected  map[string]bool
	challenge string // WWW-Authenticate of a 401; none if empty

	mu     sync.Mutex
	auths  []string // the Authorization header of each request
	bodies []string
	resps  []*trackedBody
}

func (a *api) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil { // a real transport reads and closes the body
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	authz := r.Header.Get("Authorization")
	status, h := http.StatusOK, http.Header{}
	if a.rejected[strings.TrimPrefix(authz, "Bearer ")] {
		status = http.StatusUnauthorized
		if a.challenge != "" {
			h.Set("WWW-Authenticate", a.challenge)
		}
	}
	resp := newTrackedBody("answer")
	a.mu.Lock()
	a.auths = append(a.auths, authz)
	a.bodies = append(a.bodies, string(body))
	a.resps = append(a.resps, resp)
	a.mu.Unlock()
	return &http.Response{StatusCode: status, Header: h, Body: resp, Request: r}, nil
}

func (a *api) calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.auths)
}

const invalidToken = `Bearer realm="vroauth", error="invalid_token", error_description="the access token is invalid or has expired"`

// MustTransport returns a Transport whose Source gets tokens at-1, at-2, ... from a
// fake token server, in front of a fake API that rejects at-1.
func MustTransport(tb testing.TB) (*auth.Transport, *api, *tokenServer) {
	tb.Helper()
	srv := MustTokenServer(tb, nil)
	a := &api{rejected: map[string]bool{"at-1": true}, challenge: invalidToken}
	return &auth.Transport{Source: clientConfig(srv, newFakeClock()).TokenSource(nil), Base: a}, a, srv
}

func MustRequest(tb testing.TB, method, body string) *http.Request {
	tb.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "https://vro.example.com:9898/api/v7.1/Clients", r)
	if err != nil {
		tb.Fatal(err)
	}
	return req
}

func TestTransportClonesRequest(t *testing.T) {
	tr, a, _ := MustTransport(t)
	a.rejected = nil
	req := MustRequest(t, http.MethodGet, "")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Basic old")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Request; got == req || got.Header.Get("Accept") != "application/json" {
		t.Errorf("base got the caller's request or lost its headers: %v", got.Header)
	}
	if got := a.auths[0]; got != "Bearer at-1" {
		t.Errorf("base got Authorization %q; want Bearer at-1", got)
	}
	if got := req.Header.Get("Authorization"); got != "Basic old" {
		t.Errorf("caller's request Authorization = %q; want it unchanged (Basic old)", got)
	}
}

func TestTransportRetry(t *testing.T) {
	tests := []struct {
		name   string
		method string
		body   string
	}{
		{"OKNoBody", http.MethodGet, ""},
		{"OKReplayableBody", http.MethodPost, `{"name":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, a, srv := MustTransport(t)
			resp, err := tr.RoundTrip(MustRequest(t, tt.method, tt.body))
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("RoundTrip() = %v, %v; want 200", resp, err)
			}
			resp.Body.Close()
			if want := []string{"Bearer at-1", "Bearer at-2"}; !slices.Equal(a.auths, want) {
				t.Errorf("base got Authorization %q; want %q", a.auths, want)
			}
			if want := []string{tt.body, tt.body}; !slices.Equal(a.bodies, want) {
				t.Errorf("base got bodies %q; want %q", a.bodies, want)
			}
			if !a.resps[0].closed.Load() {
				t.Error("the 401 answer's body was not closed")
			}
			checkGrants(t, srv, "client_credentials", "refresh_token:rt-1")
		})
	}
}

func TestTransportChallenges(t *testing.T) {
	tests := []struct {
		name      string
		challenge string
		retry     bool
	}{
		{"OKInvalidToken", invalidToken, true},
		{"OKNoChallenge", "", true},
		{"OKNoError", `Bearer realm="vroauth"`, true},
		{"OKLowerCaseToken", `bearer error=invalid_token`, true},
		{"OKAmongOthers", `Negotiate abc==, Bearer realm="x", error="invalid_token"`, true},
		{"OKEscaped", `Bearer realm="a \"b\"", error="invalid\_token"`, true},
		{"ErrInsufficientScope", `Bearer realm="vroauth", error="insufficient_scope"`, false},
		{"ErrInvalidRequest", `Bearer error="invalid_request"`, false},
		{"ErrOtherScheme", `Basic realm="proxy"`, false},
		{"ErrQuotedTrick", `Basic realm="a, Bearer error=\"invalid_token\""`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, a, _ := MustTransport(t)
			a.challenge = tt.challenge
			resp, err := tr.RoundTrip(MustRequest(t, http.MethodGet, ""))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := map[bool]int{true: 2, false: 1}[tt.retry]
			if got := a.calls(); got != want {
				t.Errorf("401 with WWW-Authenticate %q: %d requests; want %d", tt.challenge, got, want)
			}
		})
	}
}

func TestTransportNoLoop(t *testing.T) {
	tr, a, srv := MustTransport(t)
	a.rejected["at-2"] = true
	resp, err := tr.RoundTrip(MustRequest(t, http.MethodGet, ""))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("RoundTrip() = %v, %v; want the second 401", resp, err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "answer" {
		t.Errorf("401 body = %q; want it readable", b)
	}
	resp.Body.Close()
	if got := a.calls(); got != 2 {
		t.Errorf("requests = %d; want 2 (one retry, no loop)", got)
	}
	checkGrants(t, srv, "client_credentials", "refresh_token:rt-1")
}

func TestTransportErrNonReplayableBody(t *testing.T) {
	tr, a, srv := MustTransport(t)
	req := MustRequest(t, http.MethodPost, "x")
	req.Body, req.GetBody = io.NopCloser(strings.NewReader("stream")), nil
	resp, err := tr.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("RoundTrip() = %v, %v; want the 401", resp, err)
	}
	resp.Body.Close()
	if got := a.calls(); got != 1 {
		t.Errorf("requests = %d; want 1 (no retry)", got)
	}
	checkGrants(t, srv, "client_credentials")
}

func TestTransportClosesBody(t *testing.T) {
	t.Run("ErrNoSource", func(t *testing.T) {
		body := newTrackedBody("x")
		req := MustRequest(t, http.MethodPost, "")
		req.Body = body
		if _, err := (&auth.Transport{}).RoundTrip(req); err == nil || !body.closed.Load() {
			t.Errorf("RoundTrip() error = %v, body closed = %v; want an error and a closed body", err, body.closed.Load())
		}
	})
	t.Run("ErrToken", func(t *testing.T) {
		srv := MustTokenServer(t, func(int, url.Values) (int, any) {
			return http.StatusUnauthorized, oauthError("invalid_client", "client authentication failed")
		})
		a := &api{}
		tr := &auth.Transport{Source: clientConfig(srv, newFakeClock()).TokenSource(nil), Base: a}
		body := newTrackedBody("x")
		req := MustRequest(t, http.MethodPost, "")
		req.Body = body
		_, err := tr.RoundTrip(req)
		var re *auth.RetrieveError
		if !errors.As(err, &re) || !body.closed.Load() || a.calls() != 0 {
			t.Errorf("RoundTrip() error = %v, body closed = %v, requests = %d; want a *RetrieveError, closed, 0", err, body.closed.Load(), a.calls())
		}
	})
	t.Run("ErrRetryToken", func(t *testing.T) {
		srv := MustTokenServer(t, func(n int, form url.Values) (int, any) {
			if n == 1 {
				return issue(n, form)
			}
			return http.StatusBadRequest, oauthError("invalid_grant", "no")
		})
		a := &api{rejected: map[string]bool{"at-1": true}}
		tr := &auth.Transport{Source: clientConfig(srv, newFakeClock()).TokenSource(nil), Base: a}
		first, replay := newTrackedBody("x"), newTrackedBody("x")
		req := MustRequest(t, http.MethodPost, "")
		req.Body, req.GetBody = first, func() (io.ReadCloser, error) { return replay, nil }
		if _, err := tr.RoundTrip(req); err == nil {
			t.Error("RoundTrip() error = nil; want the token error")
		}
		if !first.closed.Load() || !replay.closed.Load() || !a.resps[0].closed.Load() {
			t.Errorf("closed: body %v, replayed body %v, 401 body %v; want all closed", first.closed.Load(), replay.closed.Load(), a.resps[0].closed.Load())
		}
	})
}

// staticSource always returns the same token; it cannot be told the token failed.
type staticSource struct{ tok *auth.Token }

func (s staticSource) Token(context.Context) (*auth.Token, error) { return s.tok, nil }

// stubbornSource is told the token failed, but has no other.
type stubbornSource struct{ staticSource }

func (s stubbornSource) Invalidate(*auth.Token) {}

func TestTransportErrNoBetterToken(t *testing.T) {
	tests := []struct {
		name string
		src  auth.TokenSource
	}{
		{"ErrNotInvalidator", staticSource{&auth.Token{AccessToken: "at-1"}}},
		{"ErrSameToken", stubbornSource{staticSource{&auth.Token{AccessToken: "at-1"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &api{rejected: map[string]bool{"at-1": true}}
			resp, err := (&auth.Transport{Source: tt.src, Base: a}).RoundTrip(MustRequest(t, http.MethodGet, ""))
			if err != nil || resp.StatusCode != http.StatusUnauthorized || a.calls() != 1 {
				t.Errorf("RoundTrip() = %v, %v after %d requests; want the 401 after 1", resp, err, a.calls())
			}
		})
	}
}

// TestTransportConcurrent401 checks that many requests rejected together with the same
// token cause a single refresh.
func TestTransportConcurrent401(t *testing.T) {
	tr, _, srv := MustTransport(t)
	MustToken(t, tr.Source) // every request starts with at-1
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			resp, err := tr.RoundTrip(MustRequest(t, http.MethodGet, ""))
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Errorf("RoundTrip() = %v, %v; want 200", resp, err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	checkGrants(t, srv, "client_credentials", "refresh_token:rt-1")
}

// idleCloser is a base RoundTripper that records CloseIdleConnections.
type idleCloser struct {
	http.RoundTripper
	closed bool
}

func (c *idleCloser) CloseIdleConnections() { c.closed = true }

func TestTransportCloseIdleConnections(t *testing.T) {
	base := &idleCloser{}
	client := &http.Client{Transport: &auth.Transport{Base: base}}
	client.CloseIdleConnections()
	if !base.closed {
		t.Error("http.Client.CloseIdleConnections did not reach the base transport")
	}
}

// TestTransportRedirect checks that a token follows a redirect on the same host but
// not one to another host.
func TestTransportRedirect(t *testing.T) {
	var gotAuth atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth.Store(r.Header.Get("Authorization"))
	}))
	defer other.Close()
	var sameHost string
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/landing", http.StatusFound)
		default:
			sameHost = r.Header.Get("Authorization")
		}
	}))
	defer origin.Close()
	src := staticSource{&auth.Token{AccessToken: "at-1"}}
	client := &http.Client{Transport: &auth.Transport{Source: src}}
	for _, path := range []string{"/away", "/here"} {
		resp, err := client.Get(origin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := gotAuth.Load(); got != "" {
		t.Errorf("the other host got Authorization %q; want none", got)
	}
	if sameHost != "Bearer at-1" {
		t.Errorf("a redirect on the same host got Authorization %q; want Bearer at-1", sameHost)
	}
}
