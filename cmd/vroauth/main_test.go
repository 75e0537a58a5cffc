package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/postgres/pgtest"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// running is a `vroauth serve` started in process.
type running struct {
	URL     string
	DB      string // the --db value
	KeyFile string // the client-secret key file
	Stderr  *syncBuffer
	stop    func() error
}

// MustServe runs `vroauth serve` on a free port with a database in a temporary
// directory (or a new PostgreSQL schema, see testBackend), and stops it when the test
// ends.
func MustServe(t *testing.T, vars map[string]string, args ...string) *running {
	t.Helper()
	dir := t.TempDir()
	r := &running{DB: filepath.Join(dir, "vroauth.db"), KeyFile: filepath.Join(dir, "vroauth.db.key"), Stderr: &syncBuffer{}}
	if testBackend(t) == "postgres" {
		r.DB = pgtest.DSN(t)
		args = append([]string{"--secret-key-file", r.KeyFile}, args...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	env := &Env{
		Stdin: strings.NewReader(""), Stdout: &syncBuffer{}, Stderr: r.Stderr,
		Getenv:   func(k string) string { return vars[k] },
		OnListen: func(a string) { addr <- a },
	}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", r.DB}, args...), env)
	}()
	select {
	case a := <-addr:
		r.URL = "http://" + a
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v\n%s", err, r.Stderr)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatalf("serve did not start\n%s", r.Stderr)
	}
	var once sync.Once
	var stopErr error
	r.stop = func() error {
		once.Do(func() { cancel(); stopErr = <-done })
		return stopErr
	}
	t.Cleanup(func() { r.stop() })
	return r
}

// run runs a vroauth command in process and returns its standard output.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut syncBuffer
	err := Run(context.Background(), args, &Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(string) string { return "" },
	})
	return out.String(), err
}

func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := run(t, stdin, args...)
	if err != nil {
		t.Fatalf("vroauth %s: %v", strings.Join(args, " "), err)
	}
	return out
}

var admin = map[string]string{"VROAUTH_ADMIN_USERNAME": `CORP\admin`, "VROAUTH_ADMIN_PASSWORD": "change-me-now"}

// TestCLI drives the command-line client end to end against a running server.
func TestCLI(t *testing.T) {
	srv := MustServe(t, admin)
	config := filepath.Join(t.TempDir(), "session.json")
	mustRun(t, "planner-password\n", "users", "add", "--db", srv.DB, "--username", `CORP\planner`, "--role", "PlanAuthor", "--password-stdin")
	if out := mustRun(t, "", "users", "list", "--db", srv.DB); !strings.Contains(out, `CORP\planner`) || !strings.Contains(out, "PlanAuthor") {
		t.Fatalf("users list = %q", out)
	}

	if _, err := run(t, "wrong-password\n", "login", "--server", srv.URL, "--username", `corp\planner`, "--password-stdin", "--config", config); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("login with a wrong password: %v; want an invalid_grant error", err)
	}
	mustRun(t, "planner-password\n", "login", "--server", srv.URL, "--username", `corp\planner`, "--password-stdin", "--config", config)
	if fi, err := os.Stat(config); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("session file: %v mode %v; want 0600", err, fi.Mode())
	}

	var created struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	out := mustRun(t, "", "clients", "create", "--output", "json", "--config", config)
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.ClientSecret == "" {
		t.Fatalf("clients create = %q: %v", out, err)
	}
	if out := mustRun(t, "", "clients", "list", "--config", config); !strings.Contains(out, created.ClientID) {
		t.Errorf("clients list = %q; want %s", out, created.ClientID)
	}

	token := strings.TrimSpace(mustRun(t, "", "token", "--config", config))
	req, _ := http.NewRequest("GET", srv.URL+"/api/v7.1/Clients", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET Clients with `vroauth token`: %v %v", err, resp.StatusCode)
	}
	resp.Body.Close()

	if _, err := run(t, "", "clients", "delete", "0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11", "--config", config); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("deleting an unknown client: %v; want a not-found error", err)
	}
	mustRun(t, "", "clients", "delete", created.ClientID, "--config", config)
	if out := mustRun(t, "", "clients", "list", "--output", "json", "--config", config); strings.TrimSpace(out) != "[]" {
		t.Errorf("clients list after delete = %q; want []", out)
	}

	// Disabling the user ends the saved session at once.
	mustRun(t, "", "users", "disable", "--db", srv.DB, "--username", `CORP\planner`)
	if _, err := run(t, "", "clients", "list", "--config", config); err == nil {
		t.Errorf("clients list after the user was disabled succeeded")
	}
}

func TestServeFirstAdministrator(t *testing.T) {
	srv := MustServe(t, nil)
	m := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(srv.Stderr.String())
	if m == nil {
		t.Fatalf("no generated password printed:\n%s", srv.Stderr)
	}
	config := filepath.Join(t.TempDir(), "session.json")
	mustRun(t, m[1]+"\n", "login", "--server", srv.URL, "--username", "admin", "--password-stdin", "--config", config)
	if fi, err := os.Stat(srv.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret key file: %v; want mode 0600", err)
	}
	if strings.Count(srv.Stderr.String(), m[1]) != 1 {
		t.Errorf("the generated password appears more than once in the output")
	}
}

func TestServeEnvironment(t *testing.T) {
	vars := map[string]string{"VROAUTH_ACCESS_TOKEN_TTL": "30m"}
	for k, v := range admin {
		vars[k] = v
	}
	srv := MustServe(t, vars)
	resp, err := http.PostForm(srv.URL+"/api/token", map[string][]string{
		"grant_type": {"password"}, "username": {`CORP\admin`}, "password": {"change-me-now"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		ExpiresIn int `json:"expires_in"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	if tok.ExpiresIn != 1799 {
		t.Errorf("expires_in with VROAUTH_ACCESS_TOKEN_TTL=30m = %d; want 1799", tok.ExpiresIn)
	}
}

func TestServeErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"ErrPostgresWithoutKey", []string{"serve", "--db", "postgres://nobody@127.0.0.1:1/x"}, "--secret-key-file is required"},
		{"ErrHalfTLS", []string{"serve", "--tls-cert", "cert.pem"}, "--tls-cert and --tls-key"},
		{"ErrBadTTL", []string{"serve", "--access-token-ttl", "forever"}, "invalid value"},
		{"ErrUnknownCommand", []string{"frobnicate"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("vroauth %v = %v; want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestServeShutdown: a cancelled serve returns cleanly.
func TestServeShutdown(t *testing.T) {
	srv := MustServe(t, admin)
	if err := srv.stop(); err != nil {
		t.Fatalf("serve after cancel: %v", err)
	}
	if _, err := http.Get(srv.URL + "/healthz"); err == nil {
		t.Errorf("the server still answers after shutdown")
	}
}

// TestReadmeWalkthrough runs the README's curl walkthrough verbatim.
func TestReadmeWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sed", "grep"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- walkthrough:begin -->\n```sh\n(.*?)```\n<!-- walkthrough:end -->").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no walkthrough block")
	}
	srv := MustServe(t, admin)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", string(m[1]))
	cmd.Env = append(os.Environ(), "BASE="+srv.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough failed: %v\n%s", err, out)
	}
	for _, want := range []string{`"token_type":"bearer","expires_in":899`, "DELETE -> 204", "HTTP/1.1 401", `error="invalid_token"`, "revoke -> 200", "logout -> 204"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walkthrough output lacks %q:\n%s", want, out)
		}
	}
}
