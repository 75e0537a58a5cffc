package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vroauth/vroauth/auth"
	"github.com/vroauth/vroauth/gen"
)

var jsmith = &auth.Principal{
	Kind: auth.KindUser, ID: "u-1", UserID: "u-1", Username: `CORP\jsmith`,
	Role: auth.RolePlanOperator, SessionID: "s-1",
}

// verify is a Verifier that knows a few tokens.
func verify(_ context.Context, token string) (*auth.Principal, error) {
	switch token {
	case "good-token", "b64/Token+chars~._-==":
		return jsmith, nil
	case "revoked":
		return nil, fmt.Errorf("session s-1 revoked: %w", auth.ErrInvalidToken)
	case "db-down":
		return nil, errors.New("sql: connection refused for password=hunter2")
	case "nil":
		return nil, nil
	}
	return nil, auth.ErrInvalidToken
}

// whoami answers with the caller's username.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := auth.FromContext(r.Context())
	if !ok {
		http.Error(w, "no principal", http.StatusTeapot)
		return
	}
	fmt.Fprint(w, p.Username)
})

const (
	plain     = `Bearer realm="vroauth"`
	malformed = `Bearer realm="vroauth", error="invalid_token", error_description="the Authorization header is malformed"`
	invalid   = `Bearer realm="vroauth", error="invalid_token", error_description="the access token is invalid or has expired"`
	forbidden = `Bearer realm="vroauth", error="insufficient_scope"`
)

// checkRefusal checks that rec holds the spec's Error body with code, the challenge,
// and nothing of secret.
func checkRefusal(t *testing.T, rec *httptest.ResponseRecorder, status int, challenge, code, secret string) {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status = %d; want %d", rec.Code, status)
	}
	if got := rec.Header().Get("WWW-Authenticate"); got != challenge {
		t.Errorf("WWW-Authenticate = %q; want %q", got, challenge)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q; want application/json", got)
	}
	var body gen.Error
	dec := json.NewDecoder(strings.NewReader(rec.Body.String()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || string(body.ErrorCode) != code || !body.ErrorCode.Valid() || body.Message == "" {
		t.Errorf("body = %s (%v); want a gen.Error with errorCode %s", rec.Body, err, code)
	}
	if secret != "" && (strings.Contains(rec.Body.String(), secret) || strings.Contains(fmt.Sprint(rec.Header()), secret)) {
		t.Errorf("response %v %s reveals %q", rec.Header(), rec.Body, secret)
	}
}

func TestMiddleware(t *testing.T) {
	tests := []struct {
		name      string
		authz     []string // Authorization values
		target    string
		status    int
		challenge string
		code      string
		secret    string // must not appear in the answer
	}{
		{name: "OK", authz: []string{"Bearer good-token"}, status: 200},
		{name: "OKLowerCase", authz: []string{"bearer good-token"}, status: 200},
		{name: "OKUpperCase", authz: []string{"BEARER good-token"}, status: 200},
		{name: "OKAllChars", authz: []string{"Bearer b64/Token+chars~._-=="}, status: 200},
		{name: "OKSpaces", authz: []string{"Bearer   good-token"}, status: 200},
		{name: "ErrMissing", status: 401, challenge: plain, code: "Unauthorized"},
		{name: "ErrEmpty", authz: []string{""}, status: 401, challenge: plain, code: "Unauthorized"},
		{name: "ErrOtherScheme", authz: []string{"Basic dXNlcjpwYXNz"}, status: 401, challenge: plain, code: "Unauthorized", secret: "dXNlcjpwYXNz"},
		{name: "ErrQueryToken", target: "/?access_token=good-token", status: 401, challenge: plain, code: "Unauthorized"},
		{name: "ErrNoToken", authz: []string{"Bearer"}, status: 401, challenge: malformed, code: "Unauthorized"},
		{name: "ErrBadScheme", authz: []string{"Bea:rer good-token"}, status: 401, challenge: malformed, code: "Unauthorized", secret: "good-token"},
		{name: "ErrTwoTokens", authz: []string{"Bearer good-token second"}, status: 401, challenge: malformed, code: "Unauthorized", secret: "good-token second"},
		{name: "ErrBadChar", authz: []string{`Bearer good"token`}, status: 401, challenge: malformed, code: "Unauthorized", secret: `good"token`},
		{name: "ErrLeadingEquals", authz: []string{"Bearer =good"}, status: 401, challenge: malformed, code: "Unauthorized", secret: "=good"},
		{name: "ErrInnerEquals", authz: []string{"Bearer go=od"}, status: 401, challenge: malformed, code: "Unauthorized", secret: "go=od"},
		{name: "ErrTab", authz: []string{"Bearer\tgood-token"}, status: 401, challenge: malformed, code: "Unauthorized", secret: "good-token"},
		{name: "ErrTooLong", authz: []string{"Bearer " + strings.Repeat("a", 5000)}, status: 401, challenge: malformed, code: "Unauthorized", secret: "aaaaaaaa"},
		{name: "ErrTwoHeaders", authz: []string{"Bearer good-token", "Bearer good-token"}, status: 401, challenge: malformed, code: "Unauthorized", secret: "good-token"},
		{name: "ErrUnknown", authz: []string{"Bearer unknown-token"}, status: 401, challenge: invalid, code: "Unauthorized", secret: "unknown-token"},
		{name: "ErrRevoked", authz: []string{"Bearer revoked"}, status: 401, challenge: invalid, code: "Unauthorized", secret: "revoked"},
		{name: "ErrVerifier", authz: []string{"Bearer db-down"}, status: 500, code: "InternalError", secret: "hunter2"},
		{name: "ErrVerifierNil", authz: []string{"Bearer nil"}, status: 500, code: "InternalError"},
	}
	h := auth.Middleware(auth.VerifierFunc(verify))(whoami)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.target != "" {
				req = httptest.NewRequest(http.MethodGet, tt.target, nil)
			}
			req.Header["Authorization"] = tt.authz
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if tt.status == 200 {
				if rec.Code != 200 || rec.Body.String() != jsmith.Username {
					t.Errorf("answer = %d %q; want 200 %q", rec.Code, rec.Body, jsmith.Username)
				}
				return
			}
			checkRefusal(t, rec, tt.status, tt.challenge, tt.code, tt.secret)
			if strings.Contains(rec.Body.String(), "sql") {
				t.Errorf("body %s reveals the verifier's error", rec.Body)
			}
		})
	}
}

func TestMiddlewareErrFormToken(t *testing.T) {
	h := auth.Middleware(auth.VerifierFunc(verify))(whoami)
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("access_token=good-token"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	checkRefusal(t, rec, 401, plain, "Unauthorized", "")
}

func TestMiddlewarePublic(t *testing.T) {
	reached := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := auth.FromContext(r.Context()); ok {
			t.Error("a public request carries a principal")
		}
		reached = true
	})
	h := auth.Middleware(auth.VerifierFunc(verify), auth.WithPublic(func(r *http.Request) bool {
		return r.URL.Path == "/api/token"
	}))(next)

	req := httptest.NewRequest(http.MethodPost, "/api/token", nil)
	req.Header.Set("Authorization", "Bearer unknown-token") // not even looked at
	h.ServeHTTP(httptest.NewRecorder(), req)
	if !reached {
		t.Error("the public request did not reach the handler")
	}
	reached = false
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v7.1/Clients", nil))
	if reached || rec.Code != 401 {
		t.Errorf("a guarded request without a token: reached = %v, status %d; want false, 401", reached, rec.Code)
	}
}

func TestMiddlewareRealm(t *testing.T) {
	h := auth.Middleware(auth.VerifierFunc(verify), auth.WithRealm(`corp "vro"`))(whoami)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	checkRefusal(t, rec, 401, `Bearer realm="corp \"vro\""`, "Unauthorized", "")

	defer func() {
		if recover() == nil {
			t.Error(`WithRealm("a\nb") did not panic`)
		}
	}()
	auth.Middleware(auth.VerifierFunc(verify), auth.WithRealm("a\nb"))
}

func TestMiddlewareErrorFunc(t *testing.T) {
	var got *auth.Error
	onError := func(w http.ResponseWriter, r *http.Request, e *auth.Error) {
		if w.Header().Get("WWW-Authenticate") != e.Challenge {
			t.Errorf("challenge not set before the error function: %q", w.Header().Get("WWW-Authenticate"))
		}
		got = e
		auth.WriteError(w, r, e)
	}
	h := auth.Middleware(auth.VerifierFunc(verify), auth.WithErrorFunc(onError))(whoami)
	tests := []struct {
		token  string
		status int
		is     error
		cause  string
	}{
		{"db-down", 500, nil, "hunter2"},
		{"revoked", 401, auth.ErrInvalidToken, "revoked"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+tt.token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got == nil || got.Status != tt.status || rec.Code != tt.status || !strings.Contains(got.Error(), tt.cause) ||
			(tt.is != nil && !errors.Is(got, tt.is)) {
			t.Errorf("token %s: error function got %v, answer %d; want status %d with the cause", tt.token, got, rec.Code, tt.status)
		}
	}
}

func TestMiddlewareErrNilVerifier(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Middleware(nil) did not panic")
		}
	}()
	auth.Middleware(nil)
}

func TestRequireRole(t *testing.T) {
	admin := &auth.Principal{Kind: auth.KindClient, ID: "c-1", UserID: "u-2", Role: auth.RoleAdministrator}
	guard := auth.RequireRole(auth.RoleAdministrator, auth.RolePlanAuthor)
	tests := []struct {
		name      string
		p         *auth.Principal
		status    int
		challenge string
	}{
		{"OK", admin, 200, ""},
		{"ErrRole", jsmith, 403, forbidden},
		{"ErrNoPrincipal", nil, 401, plain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.p != nil {
				req = req.WithContext(auth.NewContext(req.Context(), tt.p))
			}
			rec := httptest.NewRecorder()
			guard(whoami).ServeHTTP(rec, req)
			if tt.status == 200 {
				if rec.Code != 200 {
					t.Errorf("status = %d; want 200", rec.Code)
				}
				return
			}
			checkRefusal(t, rec, tt.status, tt.challenge, map[int]string{401: "Unauthorized", 403: "Forbidden"}[tt.status], "")
		})
	}
}

// TestRequireRoleSharesRealm checks that RequireRole answers with the realm of the
// Middleware around it, for guarded and public requests alike.
func TestRequireRoleSharesRealm(t *testing.T) {
	mw := auth.Middleware(auth.VerifierFunc(verify), auth.WithRealm("corp"),
		auth.WithPublic(func(r *http.Request) bool { return r.URL.Path == "/public" }))
	h := mw(auth.RequireRole(auth.RoleAdministrator)(whoami))

	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer good-token")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	checkRefusal(t, rec, 403, `Bearer realm="corp", error="insufficient_scope"`, "Forbidden", "good-token")

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/public", nil))
	checkRefusal(t, rec, 401, `Bearer realm="corp"`, "Unauthorized", "")
}
