package server_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vroauth/vroauth/gen"
	"github.com/vroauth/vroauth/internal/core"
)

// world is the fixture of the authorization matrix: admin owns clients A1 and A2,
// other owns B1 and B2, and each principal holds a token.
type world struct {
	env              *Env
	a1, a2, b1, b2   gen.ClientCredentials
	tokens           map[string]string
	expired, revoked string
}

func mustWorld(t *testing.T) *world {
	env := MustServe(t, Options{})
	env.MustUser(`CORP\admin`, "admin-password", core.RoleAdministrator)
	env.MustUser("other", "other-password", core.RolePlanOperator)
	w := &world{env: env, tokens: map[string]string{}}
	admin := env.MustLogin(`CORP\admin`, "admin-password").AccessToken
	other := env.MustLogin("other", "other-password").AccessToken
	w.a1, w.a2 = env.MustCreateClient(admin), env.MustCreateClient(admin)
	w.b1, w.b2 = env.MustCreateClient(other), env.MustCreateClient(other)
	w.tokens["admin user"] = admin
	w.tokens["other user"] = other
	w.tokens["client of admin"] = env.MustClientToken(w.a1).AccessToken
	w.tokens["other client of admin"] = env.MustClientToken(w.a2).AccessToken
	w.tokens["client of other user"] = env.MustClientToken(w.b1).AccessToken
	w.tokens["no token"] = ""

	// A revoked token (logged out), and an expired one: the clock passes its lifetime,
	// and every other principal gets a fresh token.
	w.revoked = env.MustLogin(`CORP\admin`, "admin-password").AccessToken
	if r, err := env.Client(w.revoked).LogoutWithResponse(context.Background()); err != nil || r.StatusCode() != 204 {
		t.Fatalf("logout: %v %v", err, r.StatusCode())
	}
	w.tokens["revoked token"] = w.revoked
	w.expired = env.MustLogin(`CORP\admin`, "admin-password").AccessToken
	env.Clock.Add(16 * time.Minute)
	for _, name := range []string{"admin user", "other user", "client of admin", "other client of admin", "client of other user"} {
		w.tokens[name] = w.freshToken(name)
	}
	w.tokens["expired token"] = w.expired
	return w
}

// freshToken issues a new access token for a principal after the clock moved.
func (w *world) freshToken(name string) string {
	switch name {
	case "admin user":
		return w.env.MustLogin(`CORP\admin`, "admin-password").AccessToken
	case "other user":
		return w.env.MustLogin("other", "other-password").AccessToken
	case "client of admin":
		return w.env.MustClientToken(w.a1).AccessToken
	case "other client of admin":
		return w.env.MustClientToken(w.a2).AccessToken
	default:
		return w.env.MustClientToken(w.b1).AccessToken
	}
}

func TestAuthorizationMatrix(t *testing.T) {
	type cell struct {
		status int
		list   []string // for "list": the IDs expected, by fixture name
	}
	// Columns: create, list, delete own, delete other's, delete sibling.
	// "own" is the principal itself for a client, one of its clients for a user;
	// "sibling" is another client of the same owner.
	matrix := map[string][5]cell{
		"admin user":            {{status: 200}, {200, []string{"a1", "a2"}}, {status: 204}, {status: 404}, {status: 204}},
		"other user":            {{status: 200}, {200, []string{"b1", "b2"}}, {status: 204}, {status: 404}, {status: 204}},
		"client of admin":       {{status: 403}, {200, []string{"a1"}}, {status: 204}, {status: 404}, {status: 403}},
		"other client of admin": {{status: 403}, {200, []string{"a2"}}, {status: 204}, {status: 404}, {status: 403}},
		"client of other user":  {{status: 403}, {200, []string{"b1"}}, {status: 204}, {status: 404}, {status: 403}},
		"no token":              {{status: 401}, {status: 401}, {status: 401}, {status: 401}, {status: 401}},
		"expired token":         {{status: 401}, {status: 401}, {status: 401}, {status: 401}, {status: 401}},
		"revoked token":         {{status: 401}, {status: 401}, {status: 401}, {status: 401}, {status: 401}},
	}
	columns := []string{"create", "list", "delete own", "delete other's", "delete sibling"}
	for principal, row := range matrix {
		for i, want := range row {
			t.Run(principal+"/"+columns[i], func(t *testing.T) {
				w := mustWorld(t)
				token := w.tokens[principal]
				c := w.env.Client(token)
				ctx := context.Background()
				switch columns[i] {
				case "create":
					r, err := c.CreateClientWithResponse(ctx)
					mustStatus(t, r, err, want.status)
					if want.status == 200 && (r.JSON200 == nil || r.JSON200.ClientSecret == "" || r.JSON200.ClientId == uuid.Nil) {
						t.Errorf("create = %s; want a client_id and a client_secret", r.Body)
					}
					checkError(t, r.HTTPResponse, r.Body, want.status)
				case "list":
					r, err := c.ListClientsWithResponse(ctx)
					mustStatus(t, r, err, want.status)
					if want.status == 200 {
						got := idStrings(*r.JSON200)
						wantIDs := w.ids(want.list)
						if !slices.Equal(got, wantIDs) {
							t.Errorf("list = %v; want %v", got, wantIDs)
						}
					}
					checkError(t, r.HTTPResponse, r.Body, want.status)
				default:
					target := w.target(principal, columns[i])
					r, err := c.DeleteClientWithResponse(ctx, &gen.DeleteClientParams{ClientId: target})
					mustStatus(t, r, err, want.status)
					checkError(t, r.HTTPResponse, r.Body, want.status)
					if want.status == 404 && (r.JSON404 == nil || r.JSON404.ResourceId == nil || *r.JSON404.ResourceId != target.String()) {
						t.Errorf("404 body = %s; want resourceId %s", r.Body, target)
					}
					w.checkDeleted(t, target, want.status == 204)
				}
			})
		}
	}
}

// target returns the client a principal deletes in a column of the matrix.
func (w *world) target(principal, column string) uuid.UUID {
	own := map[string]gen.ClientCredentials{
		"admin user": w.a1, "other user": w.b1, "client of admin": w.a1,
		"other client of admin": w.a2, "client of other user": w.b1,
		"no token": w.a1, "expired token": w.a1, "revoked token": w.a1,
	}[principal]
	switch column {
	case "delete own":
		return own.ClientId
	case "delete other's":
		if own == w.b1 {
			return w.a1.ClientId
		}
		return w.b1.ClientId
	}
	switch own { // sibling
	case w.a1:
		return w.a2.ClientId
	case w.a2:
		return w.a1.ClientId
	default:
		return w.b2.ClientId
	}
}

func (w *world) ids(names []string) []string {
	byName := map[string]gen.ClientCredentials{"a1": w.a1, "a2": w.a2, "b1": w.b1, "b2": w.b2}
	var ids []string
	for _, n := range names {
		ids = append(ids, byName[n].ClientId.String())
	}
	return ids
}

// checkDeleted checks in the store whether the client still exists.
func (w *world) checkDeleted(t *testing.T, id uuid.UUID, deleted bool) {
	t.Helper()
	_, err := w.env.Store.FindClient(context.Background(), id.String())
	if gone := core.ErrorCode(err) == core.ENOTFOUND; gone != deleted {
		t.Errorf("client %s deleted = %v; want %v", id, gone, deleted)
	}
}

type statusCoder interface{ StatusCode() int }

func mustStatus(t *testing.T, r statusCoder, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if got := r.StatusCode(); got != want {
		t.Fatalf("status = %d; want %d", got, want)
	}
}

// checkError checks the error body and the challenge of a 401 or 403.
func checkError(t *testing.T, r *http.Response, body []byte, status int) {
	t.Helper()
	challenge := r.Header.Get("WWW-Authenticate")
	switch status {
	case 401:
		if !strings.HasPrefix(challenge, `Bearer realm="vroauth"`) {
			t.Errorf("WWW-Authenticate = %q; want a Bearer challenge", challenge)
		}
		if !strings.Contains(string(body), `"errorCode":"Unauthorized"`) {
			t.Errorf("body = %s; want errorCode Unauthorized", body)
		}
	case 403:
		if challenge != `Bearer realm="vroauth", error="insufficient_scope"` {
			t.Errorf("WWW-Authenticate = %q; want insufficient_scope", challenge)
		}
		if !strings.Contains(string(body), `"errorCode":"Forbidden"`) {
			t.Errorf("body = %s; want errorCode Forbidden", body)
		}
	case 404:
		if !strings.Contains(string(body), `"errorCode":"NotFound"`) {
			t.Errorf("body = %s; want errorCode NotFound", body)
		}
	}
}

func idStrings(ids []uuid.UUID) []string {
	var s []string
	for _, id := range ids {
		s = append(s, id.String())
	}
	return s
}

func TestUnauthorizedChallenges(t *testing.T) {
	env := MustServe(t, Options{})
	tests := []struct {
		name, header, want string
	}{
		{"ErrNoToken", "", `Bearer realm="vroauth"`},
		{"ErrUnknownToken", "Bearer bm90LWEtdG9rZW4", `Bearer realm="vroauth", error="invalid_token"`},
		{"ErrBasicScheme", "Basic dXNlcjpwYXNz", `Bearer realm="vroauth"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", env.HTTP.URL+"/api/v7.1/Clients", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := env.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), tt.want) {
				t.Errorf("GET Clients with %q = %d %q; want 401 %q", tt.header, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tt.want)
			}
		})
	}
}

func TestDeleteClientBadID(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	token := env.MustLogin("alice", "alice-password").AccessToken
	tests := []struct {
		name, query string
		status      int
		message     string
	}{
		{"ErrMissing", "", 400, "clientId is required"},
		{"ErrMalformed", "?clientId=not-a-guid", 400, "clientId must be a GUID"},
		{"ErrUnknown", "?clientId=0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11", 404, "client not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("DELETE", env.HTTP.URL+"/api/v7.1/Clients"+tt.query, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := env.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.message) {
				t.Errorf("DELETE Clients%s = %d %s; want %d with %q", tt.query, resp.StatusCode, body, tt.status, tt.message)
			}
		})
	}
}

// TestDeleteClientUpperCase: client IDs compare case-insensitively.
func TestDeleteClientUpperCase(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	token := env.MustLogin("alice", "alice-password").AccessToken
	c := env.MustCreateClient(token)
	req, _ := http.NewRequest("DELETE", env.HTTP.URL+"/api/v7.1/Clients?clientId="+strings.ToUpper(c.ClientId.String()), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := env.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("DELETE with an upper-case ID = %d; want 204", resp.StatusCode)
	}
}
