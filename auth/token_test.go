package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vroauth/vroauth/auth"
)

// MustToken calls src.Token and fails the test on an error.
func MustToken(tb testing.TB, src auth.TokenSource) *auth.Token {
	tb.Helper()
	tok, err := src.Token(context.Background())
	if err != nil {
		tb.Fatalf("Token() error = %v", err)
	}
	return tok
}

func checkGrants(t *testing.T, srv *tokenServer, want ...string) {
	t.Helper()
	if got := srv.Grants(); !reflect.DeepEqual(got, want) {
		t.Errorf("token requests = %q; want %q", got, want)
	}
}

func TestSourceClientCredentials(t *testing.T) {
	srv := MustTokenServer(t, nil)
	clock := newFakeClock()
	tok := MustToken(t, clientConfig(srv, clock).TokenSource(nil))

	want := &auth.Token{AccessToken: "at-1", TokenType: "bearer", RefreshToken: "rt-1", Expiry: clock.Now().Add(60 * time.Second)}
	if !reflect.DeepEqual(tok, want) {
		t.Errorf("Token() = %+v; want %+v", tok, want)
	}
	req := srv.Request(0)
	wantForm := url.Values{"grant_type": {"client_credentials"}, "client_id": {"0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11"}, "client_secret": {"s3cr3t-client-secret"}}
	if !reflect.DeepEqual(req.Form, wantForm) {
		t.Errorf("token request form = %v; want %v", req.Form, wantForm)
	}
	if got := req.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
		t.Errorf("token request Content-Type = %q; want application/x-www-form-urlencoded", got)
	}
	if got := req.Header.Get("Authorization"); got != "" {
		t.Errorf("token request Authorization = %q; want none (credentials go in the form)", got)
	}
	if n := srv.Count(); n != 1 {
		t.Errorf("token requests = %d; want 1", n)
	}
}

func TestSourcePassword(t *testing.T) {
	srv := MustTokenServer(t, nil)
	cfg := &auth.Config{TokenURL: srv.URL + "/api/token", Username: `CORP\jsmith`, Password: "correct horse", HTTPClient: srv.Client()}
	MustToken(t, cfg.TokenSource(nil))

	req := srv.Request(0)
	wantForm := url.Values{"grant_type": {"password"}, "username": {`CORP\jsmith`}, "password": {"correct horse"}}
	if !reflect.DeepEqual(req.Form, wantForm) {
		t.Errorf("token request form = %v; want %v", req.Form, wantForm)
	}
	if !strings.Contains(req.Body, "username=CORP%5Cjsmith") {
		t.Errorf("token request body = %q; want the backslash encoded as %%5C", req.Body)
	}
}

func TestSourceErrBothCredentials(t *testing.T) {
	srv := MustTokenServer(t, nil)
	cfg := clientConfig(srv, newFakeClock())
	cfg.Username, cfg.Password = "jsmith", "pw"
	if _, err := cfg.TokenSource(nil).Token(context.Background()); err == nil {
		t.Error("Token() with client and user credentials: error = nil; want an error")
	}
	checkGrants(t, srv)
}

func TestSourceExpiryMargin(t *testing.T) {
	tests := []struct {
		name   string
		margin time.Duration
		cached time.Duration // still served from the cache this long after issue
		renew  time.Duration // renewed this long after issue
	}{
		{"Default", 0, 49 * time.Second, 50 * time.Second},
		{"Custom", 30 * time.Second, 29 * time.Second, 30 * time.Second},
		{"None", -1, 59 * time.Second, 60 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, clock := MustTokenServer(t, nil), newFakeClock()
			cfg := clientConfig(srv, clock)
			cfg.ExpiryMargin = tt.margin
			src := cfg.TokenSource(nil)
			MustToken(t, src)
			clock.Advance(tt.cached)
			if got := MustToken(t, src).AccessToken; got != "at-1" {
				t.Errorf("Token() after %v = %q; want at-1 (cached)", tt.cached, got)
			}
			clock.Advance(tt.renew - tt.cached)
			if got := MustToken(t, src).AccessToken; got != "at-2" {
				t.Errorf("Token() after %v = %q; want at-2 (renewed)", tt.renew, got)
			}
			checkGrants(t, srv, "client_credentials", "refresh_token:rt-1")
		})
	}
}

// TestSourceShortLivedToken checks that a token living less than the margin is
// renewed halfway through its life, not on every call.
func TestSourceShortLivedToken(t *testing.T) {
	srv := MustTokenServer(t, func(n int, form url.Values) (int, any) {
		status, body := issue(n, form)
		body.(map[string]any)["expires_in"] = 4
		return status, body
	})
	clock := newFakeClock()
	src := clientConfig(srv, clock).TokenSource(nil)
	MustToken(t, src)
	clock.Advance(1 * time.Second)
	MustToken(t, src)
	clock.Advance(1 * time.Second)
	MustToken(t, src)
	checkGrants(t, srv, "client_credentials", "refresh_token:rt-1")
}

func TestSourceRefreshRotation(t *testing.T) {
	srv, clock := MustTokenServer(t, nil), newFakeClock()
	var saved []string
	cfg := clientConfig(srv, clock)
	cfg.OnToken = func(tok *auth.Token) { saved = append(saved, tok.RefreshToken) }
	src := cfg.TokenSource(nil)
	for range 3 {
		MustToken(t, src)
		clock.Advance(55 * time.Second)
	}
	checkGrants(t, srv, "client_credentials", "refresh_token:rt-1", "refresh_token:rt-2")
	if want := []string{"rt-1", "rt-2", "rt-3"}; !reflect.DeepEqual(saved, want) {
		t.Errorf("OnToken saw refresh tokens %q; want %q", saved, want)
	}
}

func TestSourceRefreshNotRotated(t *testing.T) {
	srv := MustTokenServer(t, func(n int, form url.Values) (int, any) {
		status, body := issue(n, form)
		if form.Get("grant_type") == "refresh_token" {
			delete(body.(map[string]any), "refresh_token")
		}
		return status, body
	})
	clock := newFakeClock()
	src := clientConfig(srv, clock).TokenSource(nil)
	for range 3 {
		MustToken(t, src)
		clock.Advance(55 * time.Second)
	}
	checkGrants(t, srv, "client_credentials", "refresh_token:rt-1", "refresh_token:rt-1")
}

func TestSourceFallback(t *testing.T) {
	t.Run("ErrInvalidGrant", func(t *testing.T) {
		srv := MustTokenServer(t, func(n int, form url.Values) (int, any) {
			if form.Get("grant_type") == "refresh_token" {
				return http.StatusBadRequest, oauthError("invalid_grant", "the refresh token was already used")
			}
			return issue(n, form)
		})
		clock := newFakeClock()
		src := clientConfig(srv, clock).TokenSource(&auth.Token{AccessToken: "old", RefreshToken: "rt-0", Expiry: clock.Now()})
		if got := MustToken(t, src).AccessToken; got != "at-2" {
			t.Errorf("Token() = %q; want at-2", got)
		}
		checkGrants(t, srv, "refresh_token:rt-0", "client_credentials")
	})
	t.Run("ErrRefreshExpired", func(t *testing.T) {
		srv, clock := MustTokenServer(t, nil), newFakeClock()
		cfg := clientConfig(srv, clock)
		cfg.RefreshTokenLifetime = 30 * time.Second // shorter than the access token's 60 s
		src := cfg.TokenSource(nil)
		MustToken(t, src)
		clock.Advance(55 * time.Second)
		MustToken(t, src)
		checkGrants(t, srv, "client_credentials", "client_credentials")
	})
	t.Run("ErrServerFailure", func(t *testing.T) {
		srv := MustTokenServer(t, func(n int, form url.Values) (int, any) {
			return http.StatusInternalServerError, oauthError("server_error", "database unavailable")
		})
		clock := newFakeClock()
		src := clientConfig(srv, clock).TokenSource(&auth.Token{RefreshToken: "rt-0"})
		_, err := src.Token(context.Background())
		var re *auth.RetrieveError
		if !errors.As(err, &re) || re.StatusCode != http.StatusInternalServerError {
			t.Errorf("Token() error = %v; want a *RetrieveError with status 500", err)
		}
		checkGrants(t, srv, "refresh_token:rt-0") // no fallback: the server did not reject the token
	})
}

func TestSourceSeeded(t *testing.T) {
	clock := newFakeClock()
	tests := []struct {
		name    string
		saved   *auth.Token
		want    string // access token, or the error's text
		grants  []string
		wantErr error
	}{
		{"OKValid", &auth.Token{AccessToken: "saved", Expiry: clock.Now().Add(time.Hour)}, "saved", nil, nil},
		{"OKRefreshOnly", &auth.Token{RefreshToken: "rt-saved"}, "at-1", []string{"refresh_token:rt-saved"}, nil},
		{"ErrRefreshExpired", &auth.Token{RefreshToken: "rt-saved", RefreshExpiry: clock.Now()}, "", nil, auth.ErrNoCredentials},
		{"ErrNothing", nil, "", nil, auth.ErrNoCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := MustTokenServer(t, nil)
			cfg := &auth.Config{TokenURL: srv.URL + "/api/token", HTTPClient: srv.Client(), Now: clock.Now}
			tok, err := cfg.TokenSource(tt.saved).Token(context.Background())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Token() error = %v; want %v", err, tt.wantErr)
			}
			if err == nil && tok.AccessToken != tt.want {
				t.Errorf("Token() = %q; want %q", tok.AccessToken, tt.want)
			}
			checkGrants(t, srv, tt.grants...)
		})
	}
}

func TestSourceRejectedRefreshWithoutCredentials(t *testing.T) {
	srv := MustTokenServer(t, func(n int, form url.Values) (int, any) {
		return http.StatusBadRequest, oauthError("invalid_grant", "the refresh token has expired")
	})
	cfg := &auth.Config{TokenURL: srv.URL + "/api/token", HTTPClient: srv.Client()}
	src := cfg.TokenSource(&auth.Token{RefreshToken: "rt-saved"})
	_, err := src.Token(context.Background())
	var re *auth.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.GrantType != "refresh_token" {
		t.Fatalf("Token() error = %v; want a refresh_token *RetrieveError with invalid_grant", err)
	}
	if _, err := src.Token(context.Background()); !errors.Is(err, auth.ErrNoCredentials) {
		t.Errorf("second Token() error = %v; want ErrNoCredentials", err)
	}
	checkGrants(t, srv, "refresh_token:rt-saved") // the rejected refresh token is not sent again
}

func TestSourceInvalidate(t *testing.T) {
	srv := MustTokenServer(t, nil)
	src := clientConfig(srv, newFakeClock()).TokenSource(nil)
	tok := MustToken(t, src)
	src.Invalidate(&auth.Token{AccessToken: "some-other-token"})
	if got := MustToken(t, src).AccessToken; got != "at-1" {
		t.Errorf("Token() after invalidating another token = %q; want at-1", got)
	}
	src.Invalidate(tok)
	if got := MustToken(t, src).AccessToken; got != "at-2" {
		t.Errorf("Token() after invalidating it = %q; want at-2", got)
	}
	src.Invalidate(tok) // stale: at-2 is current
	if got := MustToken(t, src).AccessToken; got != "at-2" {
		t.Errorf("Token() after invalidating a stale token = %q; want at-2", got)
	}
	checkGrants(t, srv, "client_credentials", "refresh_token:rt-1")
}

func TestRetrieveErrorHasNoSecret(t *testing.T) {
	const secret, password, refresh = "s3cr3t-client-secret", "correct horse", "rt-saved"
	tests := []struct {
		name       string
		user       bool
		status     int
		code, desc string
	}{
		{"ErrInvalidClient", false, http.StatusUnauthorized, "invalid_client", "bad client_secret " + secret},
		{"ErrInvalidGrant", true, http.StatusBadRequest, "invalid_grant", "wrong password " + password + " or refresh token " + refresh},
		{"ErrNotJSON", false, http.StatusBadGateway, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := MustTokenServer(t, func(n int, form url.Values) (int, any) {
				if tt.code == "" {
					return tt.status, rawBody("<html>proxy error " + secret + "</html>")
				}
				return tt.status, oauthError(tt.code, tt.desc)
			})
			cfg := clientConfig(srv, newFakeClock())
			if tt.user {
				cfg.ClientID, cfg.ClientSecret, cfg.Username, cfg.Password = "", "", `CORP\jsmith`, password
			}
			_, err := cfg.TokenSource(&auth.Token{RefreshToken: refresh, RefreshExpiry: time.Unix(1, 0)}).Token(context.Background())
			var re *auth.RetrieveError
			if !errors.As(err, &re) || re.StatusCode != tt.status || re.ErrorCode != tt.code {
				t.Fatalf("Token() error = %#v; want a *RetrieveError with %d %q", err, tt.status, tt.code)
			}
			for _, s := range []string{secret, password, refresh} {
				if strings.Contains(err.Error(), s) || strings.Contains(re.Description, s) {
					t.Errorf("error %q reveals %q", err, s)
				}
			}
			if !strings.Contains(err.Error(), tt.code) {
				t.Errorf("error %q does not name the code %q", err, tt.code)
			}
		})
	}
}

func TestSourceErrBadAnswer(t *testing.T) {
	tests := []struct{ name, body string }{
		{"ErrNotJSON", "not json"},
		{"ErrNoAccessToken", `{"token_type":"bearer","expires_in":60}`},
		{"ErrTokenType", `{"access_token":"x","token_type":"mac","expires_in":60}`},
		{"ErrNegativeExpiry", `{"access_token":"x","token_type":"bearer","expires_in":-5}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := MustTokenServer(t, func(int, url.Values) (int, any) { return http.StatusOK, rawBody(tt.body) })
			if tok, err := clientConfig(srv, newFakeClock()).TokenSource(nil).Token(context.Background()); err == nil {
				t.Errorf("Token() = %+v; want an error", tok)
			}
		})
	}
}

func TestTokenJSON(t *testing.T) {
	in := auth.Token{AccessToken: "at", TokenType: "bearer", RefreshToken: "rt", Expiry: time.Unix(1700000000, 0).UTC()}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "refresh_expiry") {
		t.Errorf("json.Marshal(%+v) = %s; want no zero refresh_expiry", in, b)
	}
	var out auth.Token
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("round trip of %+v = %+v, %v", in, out, err)
	}
}

func TestRetrieveErrorSanitized(t *testing.T) {
	srv := MustTokenServer(t, func(int, url.Values) (int, any) {
		return http.StatusBadRequest, oauthError("invalid_grant", "line one\nforged: line two"+strings.Repeat("x", 1000))
	})
	_, err := clientConfig(srv, newFakeClock()).TokenSource(nil).Token(context.Background())
	var re *auth.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("Token() error = %v; want a *RetrieveError", err)
	}
	if strings.ContainsAny(err.Error(), "\n\r") || len(re.Description) > 256 {
		t.Errorf("error %q: want no control characters and a bounded description", err)
	}
}

// TestSourceErrPanickingHook checks that a panic in OnToken does not leave the
// source waiting forever for a request that has ended.
func TestSourceErrPanickingHook(t *testing.T) {
	srv := MustTokenServer(t, nil)
	cfg := clientConfig(srv, newFakeClock())
	panics := true
	cfg.OnToken = func(*auth.Token) {
		if panics {
			panics = false
			panic("hook failed")
		}
	}
	src := cfg.TokenSource(nil)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Token() did not pass the hook's panic on")
			}
		}()
		_, _ = src.Token(context.Background())
	}()
	if got := MustToken(t, src).AccessToken; got != "at-2" {
		t.Errorf("Token() after the panic = %q; want at-2", got)
	}
}
