package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/core"
)

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// post sends a raw request to the token endpoint.
func post(t *testing.T, env *Env, path, contentType, body string, edit func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("POST", env.HTTP.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := env.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, readAll(t, resp)
}

const formType = "application/x-www-form-urlencoded"

func TestPasswordGrant(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser(`CORP\JSmith`, "s3cret-pass", core.RolePlanAuthor)
	tests := []struct {
		name, body string
		status     int
		errCode    string
	}{
		{"OK", `grant_type=password&username=CORP%5Cjsmith&password=s3cret-pass`, 200, ""},
		{"OKRawBackslash", `grant_type=password&username=corp\JSMITH&password=s3cret-pass`, 200, ""},
		{"ErrWrongPassword", `grant_type=password&username=CORP%5Cjsmith&password=wrong`, 400, "invalid_grant"},
		{"ErrUnknownUser", `grant_type=password&username=nobody&password=s3cret-pass`, 400, "invalid_grant"},
		{"ErrNoDomainIsAnotherUser", `grant_type=password&username=jsmith&password=s3cret-pass`, 400, "invalid_grant"},
		{"ErrMissingPassword", `grant_type=password&username=jsmith`, 400, "invalid_request"},
		{"ErrNoGrantType", `username=jsmith&password=x`, 400, "invalid_request"},
		{"ErrUnsupportedGrant", `grant_type=authorization_code&code=x`, 400, "unsupported_grant_type"},
		{"ErrRepeatedField", `grant_type=password&username=a&username=b&password=x`, 400, "invalid_request"},
		{"ErrClientWithPassword", `grant_type=password&username=CORP%5Cjsmith&password=s3cret-pass&client_id=x&client_secret=y`, 400, "unauthorized_client"},
		{"ErrMalformedForm", `grant_type=%zz`, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, env, "/api/token", formType, tt.body, nil)
			checkTokenAnswer(t, resp, body, tt.status, tt.errCode)
		})
	}
}

// checkTokenAnswer checks a token endpoint answer: status, headers, and either exactly
// the four token fields or an RFC 6749 error.
func checkTokenAnswer(t *testing.T, resp *http.Response, body string, status int, errCode string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d (%s); want %d", resp.StatusCode, body, status)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
		t.Errorf("headers Cache-Control=%q Pragma=%q; want no-store, no-cache", resp.Header.Get("Cache-Control"), resp.Header.Get("Pragma"))
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if status == 200 {
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"access_token", "expires_in", "refresh_token", "token_type"}; !slices.Equal(keys, want) {
			t.Errorf("fields = %v; want exactly %v", keys, want)
		}
		if m["token_type"] != "bearer" || m["expires_in"] != float64(899) {
			t.Errorf("token_type=%v expires_in=%v; want bearer, 899", m["token_type"], m["expires_in"])
		}
		if len(m["access_token"].(string)) < 43 || m["access_token"] == m["refresh_token"] {
			t.Errorf("tokens must be distinct and carry 256 bits")
		}
		return
	}
	if m["error"] != errCode {
		t.Errorf("error = %v (%s); want %s", m["error"], body, errCode)
	}
	if d, _ := m["error_description"].(string); d == "" {
		t.Errorf("error_description is empty")
	}
}

func TestTokenForm(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	ok := "grant_type=password&username=alice&password=alice-password"

	t.Run("OKMultipart", func(t *testing.T) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField("grant_type", "password")
		mw.WriteField("username", "ALICE")
		mw.WriteField("password", "alice-password")
		mw.Close()
		resp, body := post(t, env, "/api/token", mw.FormDataContentType(), b.String(), nil)
		checkTokenAnswer(t, resp, body, 200, "")
	})
	t.Run("ErrMultipartRepeated", func(t *testing.T) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField("grant_type", "password")
		mw.WriteField("grant_type", "password")
		mw.Close()
		resp, body := post(t, env, "/api/token", mw.FormDataContentType(), b.String(), nil)
		checkTokenAnswer(t, resp, body, 400, "invalid_request")
	})
	t.Run("ErrMultipartFile", func(t *testing.T) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile("password", "pw.txt")
		fw.Write([]byte("alice-password"))
		mw.Close()
		resp, body := post(t, env, "/api/token", mw.FormDataContentType(), b.String(), nil)
		checkTokenAnswer(t, resp, body, 400, "invalid_request")
	})
	t.Run("ErrMultipartBroken", func(t *testing.T) {
		resp, body := post(t, env, "/api/token", "multipart/form-data; boundary=xyz", "--xyz\r\nbroken", nil)
		checkTokenAnswer(t, resp, body, 400, "invalid_request")
	})
	t.Run("ErrJSON", func(t *testing.T) {
		resp, body := post(t, env, "/api/token", "application/json", `{"grant_type":"password"}`, nil)
		checkTokenAnswer(t, resp, body, 400, "invalid_request")
	})
	t.Run("ErrCredentialsInQuery", func(t *testing.T) {
		resp, body := post(t, env, "/api/token?password=alice-password", formType, "grant_type=password&username=alice", nil)
		checkTokenAnswer(t, resp, body, 400, "invalid_request")
	})
	t.Run("ErrBodyTooLarge", func(t *testing.T) {
		resp, body := post(t, env, "/api/token", formType, ok+"&pad="+strings.Repeat("a", 70<<10), nil)
		checkTokenAnswer(t, resp, body, 400, "invalid_request")
	})
	t.Run("OKBearerHeaderIgnored", func(t *testing.T) {
		resp, body := post(t, env, "/api/token", formType, ok, func(r *http.Request) { r.Header.Set("Authorization", "Bearer stale") })
		checkTokenAnswer(t, resp, body, 200, "")
	})
}

func TestClientCredentialsGrant(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	c := env.MustCreateClient(env.MustLogin("alice", "alice-password").AccessToken)
	id, secret := c.ClientId.String(), c.ClientSecret
	basic := func(user, pass string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass)) }
	}
	tests := []struct {
		name, body string
		edit       func(*http.Request)
		status     int
		errCode    string
	}{
		{"OKForm", "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret, nil, 200, ""},
		{"OKFormUpperCaseID", "grant_type=client_credentials&client_id=" + strings.ToUpper(id) + "&client_secret=" + secret, nil, 200, ""},
		{"OKBasic", "grant_type=client_credentials", basic(id, secret), 200, ""},
		{"ErrBoth", "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret, basic(id, secret), 400, "invalid_request"},
		{"ErrFormWrongSecret", "grant_type=client_credentials&client_id=" + id + "&client_secret=nope", nil, 400, "invalid_client"},
		{"ErrBasicWrongSecret", "grant_type=client_credentials", basic(id, "nope"), 401, "invalid_client"},
		{"ErrUnknownClient", "grant_type=client_credentials&client_id=0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11&client_secret=" + secret, nil, 400, "invalid_client"},
		{"ErrMalformedID", "grant_type=client_credentials&client_id=alice&client_secret=" + secret, nil, 400, "invalid_client"},
		{"ErrNoCredentials", "grant_type=client_credentials", nil, 400, "invalid_client"},
		{"ErrSecretInQuery", "grant_type=client_credentials&client_id=" + id, func(r *http.Request) {
			r.URL.RawQuery = "client_secret=" + secret
		}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, env, "/api/token", formType, tt.body, tt.edit)
			checkTokenAnswer(t, resp, body, tt.status, tt.errCode)
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="vroauth"` {
				t.Errorf("WWW-Authenticate = %q; want the Basic challenge", resp.Header.Get("WWW-Authenticate"))
			}
			if strings.Contains(body, secret) {
				t.Errorf("the answer echoes the secret")
			}
		})
	}
}

func TestRefreshGrant(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	first := env.MustLogin("alice", "alice-password")
	refresh := func(tok string) (*http.Response, string) {
		return post(t, env, "/api/token", formType, "grant_type=refresh_token&refresh_token="+url.QueryEscape(tok), nil)
	}

	resp, body := refresh(first.RefreshToken)
	checkTokenAnswer(t, resp, body, 200, "")
	var second struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal([]byte(body), &second); err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("a refresh must return a new pair")
	}
	if got := env.ListStatus(second.AccessToken); got != 200 {
		t.Fatalf("new access token: GET Clients = %d; want 200", got)
	}

	// Reuse of the spent refresh token: theft, the whole family ends.
	resp, body = refresh(first.RefreshToken)
	checkTokenAnswer(t, resp, body, 400, "invalid_grant")
	if got := env.ListStatus(second.AccessToken); got != 401 {
		t.Errorf("after reuse, the newest access token: GET Clients = %d; want 401", got)
	}
	resp, body = refresh(second.RefreshToken)
	checkTokenAnswer(t, resp, body, 400, "invalid_grant")
	if !strings.Contains(env.Logs.String(), "event=token.refresh_reused") {
		t.Errorf("reuse was not logged")
	}

	t.Run("ErrExpired", func(t *testing.T) {
		tok := env.MustLogin("alice", "alice-password")
		env.Clock.Add(121 * time.Minute)
		resp, body := refresh(tok.RefreshToken)
		checkTokenAnswer(t, resp, body, 400, "invalid_grant")
	})
	t.Run("ErrMissing", func(t *testing.T) {
		resp, body := post(t, env, "/api/token", formType, "grant_type=refresh_token", nil)
		checkTokenAnswer(t, resp, body, 400, "invalid_request")
	})
}

// TestRefreshKeepsPrincipal: a client's refreshed token is still the client's.
func TestRefreshKeepsPrincipal(t *testing.T) {
	env := MustServe(t, Options{})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	user := env.MustLogin("alice", "alice-password")
	c1, c2 := env.MustCreateClient(user.AccessToken), env.MustCreateClient(user.AccessToken)
	tok := env.MustClientToken(c1)

	// Another client may not spend c1's refresh token.
	resp, body := post(t, env, "/api/token", formType, "grant_type=refresh_token&refresh_token="+tok.RefreshToken+
		"&client_id="+c2.ClientId.String()+"&client_secret="+c2.ClientSecret, nil)
	checkTokenAnswer(t, resp, body, 400, "invalid_grant")

	resp, body = post(t, env, "/api/token", formType, "grant_type=refresh_token&refresh_token="+tok.RefreshToken, nil)
	checkTokenAnswer(t, resp, body, 200, "")
	var next struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal([]byte(body), &next)
	r, err := env.Client(next.AccessToken).ListClientsWithResponse(context.Background())
	if err != nil || r.JSON200 == nil {
		t.Fatalf("list: %v %d", err, r.StatusCode())
	}
	if got := idStrings(*r.JSON200); !slices.Equal(got, []string{c1.ClientId.String()}) {
		t.Errorf("refreshed client lists %v; want only itself", got)
	}
}
