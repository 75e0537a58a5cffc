package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/postgres/pgtest"
)

// startServe runs `vroauth serve` in process with args on a free port of 127.0.0.1,
// and stops it when t ends. Unlike MustServe it reports a failed start as an error, so
// that several servers can start at once from goroutines.
func startServe(t *testing.T, vars map[string]string, args ...string) (*running, error) {
	r := &running{Stderr: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	env := &Env{
		Stdin: strings.NewReader(""), Stdout: &syncBuffer{}, Stderr: r.Stderr,
		Getenv:   func(k string) string { return vars[k] },
		OnListen: func(a string) { addr <- a },
	}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), env) }()
	select {
	case a := <-addr:
		r.URL = "http://" + a
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("serve: %v\n%s", err, r.Stderr)
	case <-time.After(30 * time.Second):
		cancel()
		return nil, fmt.Errorf("serve did not start within 30 s\n%s", r.Stderr)
	}
	var once sync.Once
	var stopErr error
	r.stop = func() error {
		once.Do(func() { cancel(); stopErr = <-done })
		return stopErr
	}
	t.Cleanup(func() { r.stop() })
	return r, nil
}

// MustServePair starts two `vroauth serve` instances at the same moment on one new
// PostgreSQL schema and one --secret-key-file, as two servers behind a load balancer,
// the first with varsA and the second with varsB. It returns the DSN and both.
func MustServePair(t *testing.T, varsA, varsB map[string]string) (dsn string, a, b *running) {
	t.Helper()
	dsn = pgtest.DSN(t)
	key := filepath.Join(t.TempDir(), "secret.key") // created by whichever starts first
	vars := []map[string]string{varsA, varsB}
	rs, errs := make([]*running, 2), make([]error, 2)
	var wg sync.WaitGroup
	for i := range rs {
		wg.Go(func() {
			rs[i], errs[i] = startServe(t, vars[i], "--db", dsn, "--secret-key-file", key, "--pg-max-conns", "16")
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	rs[0].DB, rs[1].DB = dsn, dsn
	return dsn, rs[0], rs[1]
}

// answer is an HTTP answer: its status and, if it is a JSON object, its fields.
type answer struct {
	status int
	fields map[string]any
}

// str returns the string field name of the answer ("" if there is none).
func (a answer) str(name string) string {
	s, _ := a.fields[name].(string)
	return s
}

// multiClient sends the test's requests, over enough kept-alive connections for the
// concurrent ones.
var multiClient = &http.Client{
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	Timeout:   30 * time.Second,
}

// send sends method path to r, with form as the body if not nil and token as the
// bearer token if not "". It reports failures with t.Errorf, so that it may run in a
// goroutine, and then returns the zero answer.
func send(t *testing.T, r *running, method, path string, form url.Values, token string) answer {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, r.URL+path, body)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
		return answer{}
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := multiClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
		return answer{}
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode}
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &a.fields)
	return a
}

// tokenGrant posts form to /api/token of r.
func tokenGrant(t *testing.T, r *running, form url.Values) answer {
	return send(t, r, "POST", "/api/token", form, "")
}

// mustGrant posts form to /api/token of r and returns the access and refresh tokens.
func mustGrant(t *testing.T, r *running, form url.Values) (access, refresh string) {
	t.Helper()
	a := tokenGrant(t, r, form)
	if a.status != 200 || a.str("access_token") == "" || a.str("refresh_token") == "" {
		t.Fatalf("POST /api/token (%s) = %d %v; want 200 and a pair", form.Get("grant_type"), a.status, a.fields)
	}
	return a.str("access_token"), a.str("refresh_token")
}

func password(name, pw string) url.Values {
	return url.Values{"grant_type": {"password"}, "username": {name}, "password": {pw}}
}

func clientCredentials(id, secret string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
}

func refresh(token string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
}

// listStatus returns the status of GET Clients on r with token.
func listStatus(t *testing.T, r *running, token string) int {
	return send(t, r, "GET", "/api/v7.1/Clients", nil, token).status
}

// mustCreateClient creates a client on r with the user token and returns its ID and
// secret.
func mustCreateClient(t *testing.T, r *running, token string) (id, secret string) {
	t.Helper()
	a := send(t, r, "POST", "/api/v7.1/Clients", nil, token)
	if a.status != 200 || a.str("client_id") == "" || a.str("client_secret") == "" {
		t.Fatalf("POST Clients = %d %v; want 200 and credentials", a.status, a.fields)
	}
	return a.str("client_id"), a.str("client_secret")
}

// warm has r accept token twice, so that whatever r may remember of a verified token
// (a cache, now or later) is in place before the test ends the token elsewhere.
func warm(t *testing.T, r *running, token string) {
	t.Helper()
	for range 2 {
		wantStatus(t, "GET Clients with a live token", listStatus(t, r, token), 200)
	}
}

// wantStatus fails t unless got is want; what names the request.
func wantStatus(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %d; want %d", what, got, want)
	}
}

// TestMultiInstance runs two servers on one PostgreSQL database and checks that what
// is done through one is seen by the other on its very next request: no sleep, no
// retry, no window.
func TestMultiInstance(t *testing.T) {
	dsn, a, b := MustServePair(t, admin, admin)
	adminName, adminPassword := admin["VROAUTH_ADMIN_USERNAME"], admin["VROAUTH_ADMIN_PASSWORD"]
	userToken, _ := mustGrant(t, a, password(adminName, adminPassword))

	t.Run("OKClientCreatedOnA", func(t *testing.T) {
		id, secret := mustCreateClient(t, a, userToken)
		access, _ := mustGrant(t, b, clientCredentials(id, secret))
		wantStatus(t, "GET Clients on B with the token B issued to a client created on A", listStatus(t, b, access), 200)
		wantStatus(t, "GET Clients on A with that token", listStatus(t, a, access), 200)
	})

	t.Run("ErrLoggedOutOnA", func(t *testing.T) {
		access, refreshToken := mustGrant(t, b, password(adminName, adminPassword))
		warm(t, b, access)
		wantStatus(t, "POST /api/logout on A", send(t, a, "POST", "/api/logout", nil, access).status, 204)
		wantStatus(t, "GET Clients on B after the logout on A", listStatus(t, b, access), 401)
		wantStatus(t, "refresh on B after the logout on A", tokenGrant(t, b, refresh(refreshToken)).status, 400)
	})

	t.Run("ErrRevokedOnA", func(t *testing.T) {
		id, secret := mustCreateClient(t, a, userToken)
		access, refreshToken := mustGrant(t, b, clientCredentials(id, secret))
		warm(t, b, access)
		form := url.Values{"token": {refreshToken}, "client_id": {id}, "client_secret": {secret}}
		wantStatus(t, "POST /api/revoke (refresh token) on A", send(t, a, "POST", "/api/revoke", form, "").status, 200)
		wantStatus(t, "GET Clients on B after the revocation on A", listStatus(t, b, access), 401)
		wantStatus(t, "refresh on B after the revocation on A", tokenGrant(t, b, refresh(refreshToken)).status, 400)
	})

	t.Run("ErrClientDeletedOnA", func(t *testing.T) {
		id, secret := mustCreateClient(t, a, userToken)
		access, refreshToken := mustGrant(t, b, clientCredentials(id, secret))
		warm(t, b, access)
		wantStatus(t, "DELETE Clients on A", send(t, a, "DELETE", "/api/v7.1/Clients?clientId="+id, nil, userToken).status, 204)
		wantStatus(t, "GET Clients on B after the deletion on A", listStatus(t, b, access), 401)
		wantStatus(t, "refresh on B after the deletion on A", tokenGrant(t, b, refresh(refreshToken)).status, 400)
		if got := tokenGrant(t, b, clientCredentials(id, secret)); got.status != 401 && got.status != 400 {
			t.Errorf("client_credentials on B for the client deleted on A = %d %v; want 400 or 401", got.status, got.fields)
		}
	})

	t.Run("ErrUserDisabled", func(t *testing.T) {
		const name, pw = `CORP\planner`, "planner-password"
		mustRun(t, pw+"\n", "users", "add", "--db", dsn, "--username", name, "--role", "PlanAuthor", "--password-stdin")
		access, refreshToken := mustGrant(t, b, password(name, pw))
		id, secret := mustCreateClient(t, a, access)
		clientAccess, _ := mustGrant(t, b, clientCredentials(id, secret))
		warm(t, b, access)
		warm(t, b, clientAccess)
		warm(t, a, access)
		mustRun(t, "", "users", "disable", "--db", dsn, "--username", name)
		wantStatus(t, "GET Clients on B as the disabled user", listStatus(t, b, access), 401)
		wantStatus(t, "GET Clients on B as the disabled user's client", listStatus(t, b, clientAccess), 401)
		wantStatus(t, "GET Clients on A as the disabled user", listStatus(t, a, access), 401)
		wantStatus(t, "refresh on B for the disabled user", tokenGrant(t, b, refresh(refreshToken)).status, 400)
		wantStatus(t, "password grant on B for the disabled user", tokenGrant(t, b, password(name, pw)).status, 400)
		if got := tokenGrant(t, b, clientCredentials(id, secret)); got.status != 401 && got.status != 400 {
			t.Errorf("client_credentials on B for a client of the disabled user = %d %v; want 400 or 401", got.status, got.fields)
		}
	})

	t.Run("OKConcurrentRefresh", func(t *testing.T) {
		id, secret := mustCreateClient(t, a, userToken)
		for round := range 10 {
			testConcurrentRefresh(t, a, b, id, secret)
			if t.Failed() {
				t.Fatalf("round %d failed", round)
			}
		}
	})
}

// testConcurrentRefresh sends one refresh token to both servers from 20 goroutines at
// the same moment: exactly one gets a new pair, the others invalid_grant. Then the
// family rule holds: presenting the spent token again ends the family, the new pair
// included.
func testConcurrentRefresh(t *testing.T, a, b *running, id, secret string) {
	const n = 20
	_, spent := mustGrant(t, a, clientCredentials(id, secret))
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		answers = make([]answer, n)
	)
	for i := range n {
		r := []*running{a, b}[i%2]
		wg.Go(func() {
			<-start
			answers[i] = tokenGrant(t, r, refresh(spent))
		})
	}
	close(start)
	wg.Wait()
	var access, next string
	statuses := map[int]int{}
	for _, ans := range answers {
		statuses[ans.status]++
		if ans.status == 200 {
			access, next = ans.str("access_token"), ans.str("refresh_token")
		} else if ans.status != 400 || ans.str("error") != "invalid_grant" {
			t.Errorf("a concurrent refresh answered %d %v; want 200, or 400 invalid_grant", ans.status, ans.fields)
		}
	}
	if statuses[200] != 1 {
		t.Fatalf("%d concurrent refreshes of one token over two servers: statuses %v; want exactly one 200", n, statuses)
	}
	wantStatus(t, "refresh with the spent token, presented again on A", tokenGrant(t, a, refresh(spent)).status, 400)
	wantStatus(t, "GET Clients on B with the new access token after reuse", listStatus(t, b, access), 401)
	wantStatus(t, "GET Clients on A with the new access token after reuse", listStatus(t, a, access), 401)
	wantStatus(t, "refresh on B with the new refresh token after reuse", tokenGrant(t, b, refresh(next)).status, 400)
}

// generatedPassword finds the password serve prints when it creates the first
// Administrator with a generated one.
var generatedPassword = regexp.MustCompile(`created Administrator "([^"]+)" with password:\s+(\S+)`)

// TestMultiInstanceFirstAdministrator starts two servers at once on an empty database,
// one with a generated password and one with a name and password of its own: one
// Administrator is created, and a password is printed only if it is the one created.
func TestMultiInstanceFirstAdministrator(t *testing.T) {
	other := map[string]string{"VROAUTH_ADMIN_USERNAME": `CORP\other`, "VROAUTH_ADMIN_PASSWORD": "other-password"}
	for round := range 5 {
		dsn, a, b := MustServePair(t, nil, other)
		var users []struct {
			Name string `json:"username"`
			Role string `json:"role"`
		}
		out := mustRun(t, "", "users", "list", "--db", dsn, "--output", "json")
		if err := json.Unmarshal([]byte(out), &users); err != nil || len(users) != 1 || users[0].Role != "Administrator" {
			t.Fatalf("round %d: users list after two servers started on an empty database = %s (%v); want one Administrator", round, out, err)
		}
		m := generatedPassword.FindStringSubmatch(a.Stderr.String())
		switch name := users[0].Name; {
		case name == "admin" && m == nil:
			t.Fatalf("round %d: the generated Administrator was created but no password was printed:\n%s", round, a.Stderr)
		case name == "admin":
			mustGrant(t, b, password(m[1], m[2]))
		case m != nil:
			t.Fatalf("round %d: Administrator %s was created elsewhere, yet a password was printed:\n%s", round, name, a.Stderr)
		default:
			mustGrant(t, a, password(other["VROAUTH_ADMIN_USERNAME"], other["VROAUTH_ADMIN_PASSWORD"]))
		}
	}
}
