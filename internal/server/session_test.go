package server_test

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vroauth/vroauth/auth"
	"github.com/vroauth/vroauth/gen"
	"github.com/vroauth/vroauth/internal/core"
)

func revoke(t *testing.T, env *Env, token, hint string) int {
	t.Helper()
	r, err := env.Client("").RevokeTokenWithFormdataBodyWithResponse(context.Background(), gen.RevokeTokenFormdataRequestBody{Token: token, TokenTypeHint: &hint})
	if err != nil {
		t.Fatal(err)
	}
	return r.StatusCode()
}

func refreshStatus(t *testing.T, env *Env, refresh string) int {
	t.Helper()
	return env.Token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}).StatusCode()
}

func TestRevocation(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	login := func() gen.TokenResponse { return env.MustLogin("alice", "alice-password") }

	t.Run("Logout", func(t *testing.T) {
		tok := login()
		r, err := env.Client(tok.AccessToken).LogoutWithResponse(context.Background())
		if err != nil || r.StatusCode() != 204 {
			t.Fatalf("logout = %v %d; want 204", err, r.StatusCode())
		}
		if got := env.ListStatus(tok.AccessToken); got != 401 {
			t.Errorf("access token after logout: %d; want 401", got)
		}
		if got := refreshStatus(t, env, tok.RefreshToken); got != 400 {
			t.Errorf("refresh token after logout: %d; want 400", got)
		}
	})
	t.Run("RevokeRefreshEndsAccess", func(t *testing.T) {
		tok := login()
		if got := revoke(t, env, tok.RefreshToken, "refresh_token"); got != 200 {
			t.Fatalf("revoke = %d; want 200", got)
		}
		if got := env.ListStatus(tok.AccessToken); got != 401 {
			t.Errorf("access token after revoking its refresh token: %d; want 401", got)
		}
	})
	t.Run("RevokeAccessEndsRefresh", func(t *testing.T) {
		tok := login()
		if got := revoke(t, env, tok.AccessToken, "access_token"); got != 200 {
			t.Fatalf("revoke = %d; want 200", got)
		}
		if got := refreshStatus(t, env, tok.RefreshToken); got != 400 {
			t.Errorf("refresh after revoking the access token: %d; want 400", got)
		}
	})
	t.Run("RevokeUnknownIs200", func(t *testing.T) {
		if got := revoke(t, env, "never-issued", ""); got != 200 {
			t.Errorf("revoke unknown = %d; want 200", got)
		}
	})
	t.Run("ErrRevokeNoToken", func(t *testing.T) {
		resp, body := post(t, env, "/api/revoke", formType, "token_type_hint=access_token", nil)
		if resp.StatusCode != 400 || !strings.Contains(body, "invalid_request") {
			t.Errorf("revoke without token = %d %s; want 400 invalid_request", resp.StatusCode, body)
		}
	})
	t.Run("OtherSessionsLive", func(t *testing.T) {
		a, b := login(), login()
		revoke(t, env, a.AccessToken, "")
		if got := env.ListStatus(b.AccessToken); got != 200 {
			t.Errorf("another session after revocation: %d; want 200", got)
		}
	})
	t.Run("ErrClientRevokesAnothersToken", func(t *testing.T) {
		user := login()
		c1, c2 := env.MustCreateClient(user.AccessToken), env.MustCreateClient(user.AccessToken)
		tok := env.MustClientToken(c1)
		resp, body := post(t, env, "/api/revoke", formType, "token="+tok.AccessToken+"&client_id="+c2.ClientId.String()+"&client_secret="+c2.ClientSecret, nil)
		if resp.StatusCode != 400 || !strings.Contains(body, "unauthorized_client") {
			t.Errorf("revoke another client's token = %d %s; want 400 unauthorized_client", resp.StatusCode, body)
		}
		if got := env.ListStatus(tok.AccessToken); got != 200 {
			t.Errorf("the token was revoked anyway: %d", got)
		}
	})
}

func TestDeleteClientEndsItsSessions(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	user := env.MustLogin("alice", "alice-password")
	c := env.MustCreateClient(user.AccessToken)
	tok := env.MustClientToken(c)
	r, err := env.Client(user.AccessToken).DeleteClientWithResponse(context.Background(), &gen.DeleteClientParams{ClientId: c.ClientId})
	if err != nil || r.StatusCode() != 204 {
		t.Fatalf("delete = %v %d", err, r.StatusCode())
	}
	if got := env.ListStatus(tok.AccessToken); got != 401 {
		t.Errorf("deleted client's access token: %d; want 401", got)
	}
	if got := refreshStatus(t, env, tok.RefreshToken); got != 400 {
		t.Errorf("deleted client's refresh token: %d; want 400", got)
	}
	if got := env.Token(url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientId.String()}, "client_secret": {c.ClientSecret}}).StatusCode(); got != 400 {
		t.Errorf("deleted client's credentials: %d; want 400", got)
	}
}

// TestClientsFollowOwner: clients inherit their owner's role and state, live.
func TestClientsFollowOwner(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	user := env.MustLogin("alice", "alice-password")
	c := env.MustCreateClient(user.AccessToken)
	tok := env.MustClientToken(c)
	ctx := context.Background()

	role := core.RolePlanOperator
	if _, err := env.Store.UpdateUser(ctx, "alice", core.UserUpdate{Role: &role}); err != nil {
		t.Fatal(err)
	}
	p, err := env.Server.Verify(ctx, tok.AccessToken)
	if err != nil || p.Role != auth.RolePlanOperator || p.Kind != auth.KindClient || p.ID != c.ClientId.String() {
		t.Fatalf("client principal after the owner's role change = %+v, %v; want PlanOperator client", p, err)
	}

	disabled := true
	if _, err := env.Store.UpdateUser(ctx, "alice", core.UserUpdate{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if got := env.ListStatus(tok.AccessToken); got != 401 {
		t.Errorf("client of a disabled user: %d; want 401", got)
	}
	if got := env.ListStatus(user.AccessToken); got != 401 {
		t.Errorf("disabled user: %d; want 401", got)
	}
	r := env.Token(url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientId.String()}, "client_secret": {c.ClientSecret}})
	if r.JSON400 == nil || r.JSON400.Error != "unauthorized_client" {
		t.Errorf("client_credentials of a disabled owner's client = %d %s; want 400 unauthorized_client", r.StatusCode(), r.Body)
	}
	r = env.Token(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}})
	if r.JSON400 == nil || r.JSON400.Error != "invalid_grant" {
		t.Errorf("password grant of a disabled user = %d %s; want 400 invalid_grant", r.StatusCode(), r.Body)
	}
}

func TestSingleSession(t *testing.T) {
	for _, single := range []bool{false, true} {
		env := MustServe(t, Options{SingleSession: single})
		env.MustUser("alice", "alice-password", core.RoleAdministrator)
		first := env.MustLogin("alice", "alice-password")
		second := env.MustLogin("alice", "alice-password")
		want := 200
		if single {
			want = 401
		}
		if got := env.ListStatus(first.AccessToken); got != want {
			t.Errorf("single-session=%v: older session: %d; want %d", single, got, want)
		}
		if got := env.ListStatus(second.AccessToken); got != 200 {
			t.Errorf("single-session=%v: newer session: %d; want 200", single, got)
		}
	}
}

func TestExpiry(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	tok := env.MustLogin("alice", "alice-password")
	env.Clock.Add(14 * time.Minute)
	if got := env.ListStatus(tok.AccessToken); got != 200 {
		t.Fatalf("at 14 min: %d; want 200", got)
	}
	env.Clock.Add(2 * time.Minute)
	if got := env.ListStatus(tok.AccessToken); got != 401 {
		t.Fatalf("at 16 min: %d; want 401", got)
	}
	if got := refreshStatus(t, env, tok.RefreshToken); got != 200 {
		t.Fatalf("refresh at 16 min: %d; want 200", got)
	}
}

// TestRestart: users, clients, sessions and revocations survive a restart.
func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vroauth.db")
	env := MustServe(t, Options{Path: path})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	live := env.MustLogin("alice", "alice-password")
	dead := env.MustLogin("alice", "alice-password")
	c := env.MustCreateClient(live.AccessToken)
	revoke(t, env, dead.RefreshToken, "")
	env.HTTP.Close()
	env.Store.Close()

	env = MustServe(t, Options{Path: path})
	if got := env.ListStatus(live.AccessToken); got != 200 {
		t.Errorf("live session after restart: %d; want 200", got)
	}
	if got := env.ListStatus(dead.AccessToken); got != 401 {
		t.Errorf("revoked session after restart: %d; want 401", got)
	}
	env.MustClientToken(c)
	env.MustLogin("alice", "alice-password")
}

func TestVersionAliases(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	tok := env.MustLogin("alice", "alice-password").AccessToken
	for _, v := range []string{"v6", "v7", "v7.1", "v7.2", "v7.21"} {
		req, _ := http.NewRequest("GET", env.HTTP.URL+"/api/"+v+"/Clients", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := env.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != 200 || strings.TrimSpace(body) != "[]" {
			t.Errorf("GET /api/%s/Clients = %d %s; want 200 []", v, resp.StatusCode, body)
		}
	}
}

func TestRoutes(t *testing.T) {
	env := MustServe(t, Options{})
	tests := []struct {
		method, path string
		status       int
		contains     string
	}{
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/readyz", 200, "ready"},
		{"GET", "/openapi.yaml", 200, "openapi: 3.0.3"},
		{"GET", "/openapi.json", 200, `"openapi":"3.0.3"`},
		{"GET", "/swagger/", 200, "swagger"},
		{"GET", "/nowhere", 404, `"errorCode":"NotFound"`},
		{"GET", "/api/token", 401, `"errorCode":"Unauthorized"`},
		{"PUT", "/api/v7.1/Clients", 401, `"errorCode":"Unauthorized"`},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, env.HTTP.URL+tt.path, nil)
		resp, err := env.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != tt.status || !strings.Contains(body, tt.contains) {
			t.Errorf("%s %s = %d %.80s; want %d containing %q", tt.method, tt.path, resp.StatusCode, body, tt.status, tt.contains)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	tok := env.MustLogin("alice", "alice-password").AccessToken
	req, _ := http.NewRequest("PUT", env.HTTP.URL+"/api/v7.1/Clients", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := env.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "DELETE, GET, POST" || !strings.Contains(body, "MethodNotAllowed") {
		t.Errorf("PUT Clients = %d Allow=%q %s; want 405", resp.StatusCode, resp.Header.Get("Allow"), body)
	}
}
