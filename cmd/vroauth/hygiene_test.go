package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// hygiene records a session's secrets and the error bodies it was sent, and then
// looks for the secrets where they must never be.
type hygiene struct {
	t       *testing.T
	base    string
	secrets map[string]string // what it is → the secret
	errors  []string          // every body of a 4xx or 5xx answer
}

func (h *hygiene) secret(what, s string) string {
	h.secrets[what] = s
	return s
}

// call sends a request and returns its status and body; a body of an error answer is
// kept to be searched.
func (h *hygiene) call(method, path string, form url.Values, edit func(*http.Request)) (int, []byte) {
	h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, h.base+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	if resp.StatusCode >= 400 {
		h.errors = append(h.errors, string(b)) // the body only: the path may hold a secret on purpose
	}
	return resp.StatusCode, b
}

func (h *hygiene) want(what string, status, want int, body []byte) {
	h.t.Helper()
	if status != want {
		h.t.Fatalf("%s: status %d: %s; want %d", what, status, body, want)
	}
}

type tokenPair struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

func (h *hygiene) tokens(what string, form url.Values, edit func(*http.Request)) tokenPair {
	h.t.Helper()
	status, body := h.call("POST", "/api/token", form, edit)
	h.want(what, status, 200, body)
	var p tokenPair
	if err := json.Unmarshal(body, &p); err != nil || p.Access == "" || p.Refresh == "" {
		h.t.Fatalf("%s: %s: %v", what, body, err)
	}
	h.secret(what+" access token", p.Access)
	h.secret(what+" refresh token", p.Refresh)
	return p
}

func bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func randomSecret(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// TestSecretHygiene runs a whole session with DEBUG logging: bootstrap, logins, a
// client, every grant, refresh-token reuse, logout, revocation, and the usual failures.
// Then no password, client secret, access token or refresh token may appear, in clear
// or encoded, in the log, in an error body, or in the SQLite database and its WAL.
func TestSecretHygiene(t *testing.T) {
	skipUnlessSQLite(t)
	h := &hygiene{t: t, secrets: map[string]string{}}
	adminPassword := h.secret("the admin's password", randomSecret("admin-pw-"))
	srv := MustServe(t, map[string]string{"VROAUTH_ADMIN_USERNAME": `CORP\admin`, "VROAUTH_ADMIN_PASSWORD": adminPassword},
		"--log-level", "debug")
	h.base = srv.URL

	// A second user, added with the CLI.
	plannerPassword := h.secret("the planner's password", randomSecret("planner-pw-"))
	mustRun(t, plannerPassword+"\n", "users", "add", "--db", srv.DB, "--username", `CORP\planner`, "--role", "PlanAuthor", "--password-stdin")

	admin := h.tokens("admin login", url.Values{"grant_type": {"password"}, "username": {`CORP\admin`}, "password": {adminPassword}}, nil)
	planner := h.tokens("planner login", url.Values{"grant_type": {"password"}, "username": {`corp\PLANNER`}, "password": {plannerPassword}}, nil)

	status, body := h.call("POST", "/api/v7.1/Clients", nil, bearer(planner.Access))
	h.want("create client", status, 200, body)
	var client struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(body, &client); err != nil || client.Secret == "" {
		t.Fatalf("create client: %s: %v", body, err)
	}
	h.secret("the client secret", client.Secret)

	viaForm := h.tokens("client_credentials (form)", url.Values{"grant_type": {"client_credentials"}, "client_id": {client.ID}, "client_secret": {client.Secret}}, nil)
	viaBasic := h.tokens("client_credentials (Basic)", url.Values{"grant_type": {"client_credentials"}}, func(r *http.Request) {
		r.SetBasicAuth(client.ID, client.Secret)
	})
	status, body = h.call("GET", "/api/v7.1/Clients", nil, bearer(viaForm.Access))
	h.want("list clients as the client", status, 200, body)

	refreshed := h.tokens("refresh", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {viaForm.Refresh}}, nil)
	status, body = h.call("POST", "/api/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {viaForm.Refresh}}, nil)
	h.want("refresh token reuse", status, 400, body)
	status, body = h.call("GET", "/api/v7.1/Clients", nil, bearer(refreshed.Access))
	h.want("the access token of a reused family", status, 401, body)

	status, body = h.call("POST", "/api/logout", nil, bearer(admin.Access))
	h.want("logout", status, 204, body)
	status, body = h.call("GET", "/api/v7.1/Clients", nil, bearer(admin.Access))
	h.want("a logged-out access token", status, 401, body)
	status, body = h.call("POST", "/api/revoke", url.Values{"token": {viaBasic.Refresh}}, nil)
	h.want("revoke", status, 200, body)

	// Failures, each with a secret the server must not repeat.
	wrongPassword := h.secret("a wrong password", randomSecret("wrong-pw-"))
	status, body = h.call("POST", "/api/token", url.Values{"grant_type": {"password"}, "username": {`CORP\admin`}, "password": {wrongPassword}}, nil)
	h.want("a wrong password", status, 400, body)
	misplaced := h.secret("a password typed as the user name", randomSecret("misplaced-pw-"))
	status, body = h.call("POST", "/api/token", url.Values{"grant_type": {"password"}, "username": {misplaced}, "password": {adminPassword}}, nil)
	h.want("a password typed as the user name", status, 400, body)
	wrongSecret := h.secret("a wrong client secret", randomSecret("wrong-secret-"))
	status, body = h.call("POST", "/api/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {client.ID}, "client_secret": {wrongSecret}}, nil)
	h.want("a wrong client secret", status, 400, body)
	status, body = h.call("POST", "/api/token", url.Values{"grant_type": {"client_credentials"}}, func(r *http.Request) { r.SetBasicAuth(client.ID, wrongSecret) })
	h.want("a wrong client secret (Basic)", status, 401, body)
	badRefresh := h.secret("a bad refresh token", randomSecret("bad-refresh-"))
	status, body = h.call("POST", "/api/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {badRefresh}}, nil)
	h.want("a bad refresh token", status, 400, body)
	status, body = h.call("POST", "/api/token?client_secret="+url.QueryEscape(client.Secret), url.Values{"grant_type": {"client_credentials"}, "client_id": {client.ID}}, nil)
	h.want("a secret in the query", status, 400, body)
	badBearer := h.secret("a bad access token", randomSecret("bad-access-"))
	status, body = h.call("GET", "/api/v7.1/Clients?access_token="+badBearer, nil, bearer(badBearer))
	h.want("a bad access token", status, 401, body)
	status, body = h.call("DELETE", "/api/v7.1/Clients?clientId="+url.QueryEscape(planner.Access), nil, bearer(planner.Access))
	h.want("a token as the client ID", status, 400, body)

	logs := srv.Stderr.String()
	for _, want := range []string{"path=/api/token", "reason=bad_password"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the log lacks %q: the test sees nothing of what the server logs\n%s", want, logs)
		}
	}
	files := map[string][]byte{}
	for _, name := range []string{srv.DB, srv.DB + "-wal"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files[name+" (running)"] = b
	}
	if len(files[srv.DB+"-wal (running)"]) == 0 {
		t.Fatalf("the WAL is empty: the test reads nothing of what was written")
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{srv.DB, srv.DB + "-wal"} {
		if b, err := os.ReadFile(name); err == nil {
			files[name+" (stopped)"] = b
		}
	}

	places := map[string][]byte{"the log": []byte(srv.Stderr.String()), "the error bodies": []byte(strings.Join(h.errors, "\n"))}
	for name, b := range files {
		places[name] = b
	}
	for what, secret := range h.secrets {
		for where, b := range places {
			if enc := leak(b, secret); enc != "" {
				t.Errorf("%s (%s) is in %s", what, enc, where)
			}
		}
	}
	if len(h.secrets) < 15 {
		t.Errorf("only %d secrets were checked", len(h.secrets))
	}
}

// encodings returns the ways a secret could be written down: as it is, in hex, in
// base64, and, for a token that is base64url (as the server makes them), its decoded
// bytes, raw, in hex and in base64. A hash of the secret is none of these.
func encodings(secret string) map[string][]byte {
	s := []byte(secret)
	e := map[string][]byte{
		"in clear":        s,
		"hex":             []byte(hex.EncodeToString(s)),
		"HEX":             []byte(strings.ToUpper(hex.EncodeToString(s))),
		"base64":          []byte(base64.StdEncoding.EncodeToString(s)),
		"base64 unpadded": []byte(base64.RawStdEncoding.EncodeToString(s)),
	}
	if raw, err := base64.RawURLEncoding.DecodeString(secret); err == nil && len(raw) >= 16 {
		e["decoded, raw"] = raw
		e["decoded, hex"] = []byte(hex.EncodeToString(raw))
		e["decoded, HEX"] = []byte(strings.ToUpper(hex.EncodeToString(raw)))
		e["decoded, base64"] = []byte(base64.StdEncoding.EncodeToString(raw))
		e["decoded, base64 unpadded"] = []byte(base64.RawStdEncoding.EncodeToString(raw))
	}
	return e
}

// leak returns how secret is written in b, or "" if it is not.
func leak(b []byte, secret string) string {
	for name, enc := range encodings(secret) {
		if bytes.Contains(b, enc) {
			return name
		}
	}
	return ""
}

// TestLeak checks that leak finds every encoding it looks for, and nothing in a hash.
func TestLeak(t *testing.T) {
	token := "kD8sV1qN4bZ7xC0mW3eR6tY9uI2oP5aS8dF1gH4jK7l" // base64url, 32 bytes
	for name, enc := range encodings(token) {
		b := append(append([]byte("before "), enc...), " after"...)
		if got := leak(b, token); got == "" {
			t.Errorf("leak(a buffer holding the token %s) = none; want found", name)
		}
	}
	if n := len(encodings(token)); n != 10 {
		t.Errorf("a base64url token has %d encodings; want 10", n)
	}
	if got := leak([]byte(hex.EncodeToString([]byte("unrelated"))), token); got != "" {
		t.Errorf("leak(an unrelated buffer) = %s; want none", got)
	}
}
