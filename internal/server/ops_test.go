package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vroauth/vroauth/gen"
	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/server"
)

// logBuffer collects a server's JSON log lines; safe for the server and the test.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Lines returns the log records written so far.
func (l *logBuffer) Lines(t *testing.T) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

// Find returns the records whose fields have the given values (compared as text).
func (l *logBuffer) Find(t *testing.T, want map[string]string) []map[string]any {
	t.Helper()
	var found []map[string]any
	for _, m := range l.Lines(t) {
		ok := true
		for k, v := range want {
			if fmt.Sprint(m[k]) != v {
				ok = false
				break
			}
		}
		if ok {
			found = append(found, m)
		}
	}
	return found
}

// MustFind fails the test unless exactly one record has the given fields, and returns it.
func (l *logBuffer) MustFind(t *testing.T, want map[string]string) map[string]any {
	t.Helper()
	found := l.Find(t, want)
	if len(found) != 1 {
		t.Fatalf("log records with %v: %d; want 1\n%s", want, len(found), l)
	}
	return found[0]
}

// opsOptions change how serveOps builds a server.
type opsOptions struct {
	path string                      // the SQLite file; default a new one in a temporary directory
	open func(core.Clock) core.Store // opens another store than SQLite, closed when the test ends
	wrap func(core.Store) core.Store // wraps the store the server uses
	set  func(*server.Config)        // changes the server's Config
}

// serveOps starts a server with MustServe, with JSON logs at DEBUG, and a plain
// (not contract-checking) HTTP client.
func serveOps(t *testing.T, o opsOptions) (*Env, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	env := MustServe(t, Options{Path: o.path, Open: o.open, Wrap: o.wrap, Configure: func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		if o.set != nil {
			o.set(c)
		}
	}})
	env.HTTPClient = env.HTTP.Client()
	env.Logs = nil // the logs are in the returned buffer
	return env, logs
}

// get sends GET path with the given headers and returns the answer with its body read.
func get(t *testing.T, env *Env, path string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.HTTP.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := env.HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestRequestID(t *testing.T) {
	env, logs := serveOps(t, opsOptions{})
	generated := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tests := []struct {
		name, in string
		kept     bool
	}{
		{"OK", "trace-42.abc_DEF:7", true},
		{"OKNone", "", false},
		{"ErrTooLong", strings.Repeat("a", 65), false},
		{"ErrSpace", "two words", false},
		{"ErrControl", "bad\tid", false},
		{"ErrNonASCII", "caf\u00e9", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := map[string]string{}
			if tt.in != "" {
				header["X-Request-ID"] = tt.in
			}
			resp, _ := get(t, env, "/healthz?case="+tt.name, header)
			got := resp.Header.Get("X-Request-ID")
			switch {
			case tt.kept && got != tt.in:
				t.Errorf("X-Request-ID %q -> %q; want it kept", tt.in, got)
			case !tt.kept && !generated.MatchString(got):
				t.Errorf("X-Request-ID %q -> %q; want a new GUID", tt.in, got)
			}
			line := logs.MustFind(t, map[string]string{"msg": "request", "request_id": got})
			if line["path"] != "/healthz" || line["level"] != "DEBUG" {
				t.Errorf("access log of a health check = %v; want path /healthz at DEBUG", line)
			}
		})
	}
}

func TestAccessLog(t *testing.T) {
	env, logs := serveOps(t, opsOptions{})
	alice := env.MustUser("alice", "alice-password", core.RoleAdministrator)
	tok := env.MustLogin("alice", "alice-password")
	creds := env.MustCreateClient(tok.AccessToken)
	ctok := env.MustClientToken(creds)

	t.Run("OK", func(t *testing.T) {
		resp, body := get(t, env, "/api/v7/Clients?clientId=query-secret", map[string]string{
			"Authorization": "Bearer " + ctok.AccessToken, "X-Request-ID": "list-1", "X-Api-Key": "header-secret"})
		if resp.StatusCode != 200 {
			t.Fatalf("GET Clients = %d %s; want 200", resp.StatusCode, body)
		}
		line := logs.MustFind(t, map[string]string{"msg": "request", "request_id": "list-1"})
		want := map[string]string{
			"level": "INFO", "method": "GET", "path": "/api/v7/Clients", "route": "ListClients", "status": "200",
			"bytes": strconv.Itoa(len(body)), "remote_ip": "127.0.0.1",
			"principal_kind": "client", "principal_id": creds.ClientId.String(),
		}
		for k, v := range want {
			if got := fmt.Sprint(line[k]); got != v {
				t.Errorf("access log %s = %q; want %q", k, got, v)
			}
		}
		if d, ok := line["duration"].(float64); !ok || d <= 0 {
			t.Errorf("access log duration = %v; want a positive number of nanoseconds", line["duration"])
		}
	})
	t.Run("OKUser", func(t *testing.T) {
		get(t, env, "/api/v7.1/Clients", map[string]string{"Authorization": "Bearer " + tok.AccessToken, "X-Request-ID": "list-2"})
		line := logs.MustFind(t, map[string]string{"msg": "request", "request_id": "list-2"})
		if line["principal_kind"] != "user" || line["principal_id"] != alice.ID {
			t.Errorf("access log principal = %v/%v; want user/%s", line["principal_kind"], line["principal_id"], alice.ID)
		}
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		get(t, env, "/api/v7.1/Clients", map[string]string{"Authorization": "Bearer not-a-live-token", "X-Request-ID": "list-3"})
		line := logs.MustFind(t, map[string]string{"msg": "request", "request_id": "list-3"})
		if line["status"] != float64(401) || line["principal_id"] != nil {
			t.Errorf("access log of a refused token = %v; want status 401 and no principal", line)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		get(t, env, "/nothing/here", map[string]string{"X-Request-ID": "nf"})
		line := logs.MustFind(t, map[string]string{"msg": "request", "request_id": "nf"})
		if line["route"] != "not_found" || line["status"] != float64(404) {
			t.Errorf("access log of an unknown path = %v; want route not_found, status 404", line)
		}
	})
	t.Run("RequestIDInEveryLine", func(t *testing.T) {
		get(t, env, "/api/v7.1/Clients", map[string]string{"Authorization": "Bearer " + tok.AccessToken, "X-Request-ID": "create-1"})
		req, _ := http.NewRequest(http.MethodPost, env.HTTP.URL+"/api/v7.1/Clients", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("X-Request-ID", "create-2")
		resp, err := env.HTTPClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		lines := logs.Find(t, map[string]string{"request_id": "create-2"})
		if len(lines) != 2 || lines[0]["event"] != server.EventClientCreated || lines[1]["msg"] != "request" {
			t.Errorf("lines of one request = %v; want its audit event and its access log line, both with its ID", lines)
		}
	})
	wantNoSecrets(t, logs, tok.AccessToken, tok.RefreshToken, ctok.AccessToken, ctok.RefreshToken, creds.ClientSecret,
		"alice-password", "query-secret", "header-secret", "not-a-live-token")
}

// wantNoSecrets fails the test if any of secrets appears in the logs.
func wantNoSecrets(t *testing.T, logs *logBuffer, secrets ...string) {
	t.Helper()
	all := logs.String()
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("the logs hold the secret %q:\n%s", s, all)
		}
	}
}

func TestAuditEvents(t *testing.T) {
	env, logs := serveOps(t, opsOptions{})
	ctx := context.Background()
	alice := env.MustUser("alice", "alice-password", core.RoleAdministrator)
	bob := env.MustUser("bob", "bob-password", core.RolePlanAuthor)
	if _, err := env.Store.UpdateUser(ctx, "bob", core.UserUpdate{Disabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	tok := env.MustLogin("alice", "alice-password")
	creds := env.MustCreateClient(tok.AccessToken)
	clientID := creds.ClientId.String()
	ctok := env.MustClientToken(creds)
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	env.Token(form("grant_type", "password", "username", "alice", "password", "wrong-password"))
	env.Token(form("grant_type", "password", "username", "nobody", "password", "nobody-password"))
	env.Token(form("grant_type", "password", "username", "bob", "password", "bob-password"))
	env.Token(form("grant_type", "client_credentials", "client_id", clientID, "client_secret", "wrong-secret"))
	env.Token(form("grant_type", "client_credentials", "client_id", core.NewID(), "client_secret", "any-secret"))
	refreshed := env.Token(form("grant_type", "refresh_token", "refresh_token", ctok.RefreshToken))
	if refreshed.JSON200 == nil {
		t.Fatalf("refresh: %d %s", refreshed.StatusCode(), refreshed.Body)
	}
	env.Token(form("grant_type", "refresh_token", "refresh_token", ctok.RefreshToken)) // reuse
	ctok2 := env.MustClientToken(creds)
	revoke(t, env, ctok2.RefreshToken, "refresh_token")
	creds2 := env.MustCreateClient(tok.AccessToken)
	r, err := env.Client("").RevokeTokenWithFormdataBodyWithResponse(ctx, gen.RevokeTokenFormdataRequestBody{
		Token: "whatever", ClientId: ptr(creds2.ClientId.String()), ClientSecret: ptr("wrong-secret")})
	if err != nil || r.StatusCode() != 400 {
		t.Fatalf("revoke with a wrong client secret: %v %d; want 400", err, r.StatusCode())
	}
	if r, err := env.Client(tok.AccessToken).DeleteClientWithResponse(ctx, &gen.DeleteClientParams{ClientId: creds2.ClientId}); err != nil || r.StatusCode() != 204 {
		t.Fatalf("delete client: %v %d", err, r.StatusCode())
	}
	if r, err := env.Client(tok.AccessToken).LogoutWithResponse(ctx); err != nil || r.StatusCode() != 204 {
		t.Fatalf("logout: %v %d", err, r.StatusCode())
	}

	tests := []struct {
		name  string
		event map[string]string
	}{
		{"LoginPassword", map[string]string{"event": server.EventLoginSuccess, "grant_type": "password", "user_id": alice.ID, "level": "INFO"}},
		{"LoginClient", map[string]string{"event": server.EventLoginSuccess, "grant_type": "client_credentials", "client_id": clientID, "user_id": alice.ID}},
		{"ErrBadPassword", map[string]string{"event": server.EventLoginFailure, "grant_type": "password", "reason": "bad_password", "user_id": alice.ID, "level": "WARN"}},
		{"ErrUnknownUser", map[string]string{"event": server.EventLoginFailure, "grant_type": "password", "reason": "unknown_user"}},
		{"ErrUserDisabled", map[string]string{"event": server.EventLoginFailure, "grant_type": "password", "reason": "user_disabled", "user_id": bob.ID}},
		{"ErrBadSecret", map[string]string{"event": server.EventLoginFailure, "grant_type": "client_credentials", "reason": "bad_secret", "client_id": clientID}},
		{"ErrUnknownClient", map[string]string{"event": server.EventLoginFailure, "grant_type": "client_credentials", "reason": "unknown_client"}},
		{"Refresh", map[string]string{"event": server.EventTokenRefresh, "grant_type": "refresh_token", "client_id": clientID}},
		{"ErrRefreshReused", map[string]string{"event": server.EventRefreshReuse, "reason": "refresh_reused", "level": "WARN"}},
		{"Revoked", map[string]string{"event": server.EventTokenRevoked, "client_id": clientID, "user_id": alice.ID}},
		{"ErrRevokeRefused", map[string]string{"event": server.EventRevokeRefused, "reason": "bad_secret", "client_id": creds2.ClientId.String()}},
		{"ClientCreated", map[string]string{"event": server.EventClientCreated, "client_id": clientID, "user_id": alice.ID}},
		{"ClientDeleted", map[string]string{"event": server.EventClientDeleted, "client_id": creds2.ClientId.String(), "principal_id": alice.ID}},
		{"Logout", map[string]string{"event": server.EventLogout, "principal_kind": "user", "principal_id": alice.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := map[string]string{"audit": "true"}
			for k, v := range tt.event {
				want[k] = v
			}
			found := logs.Find(t, want)
			if len(found) == 0 {
				t.Fatalf("no log record with %v\n%s", want, logs)
			}
			line := found[0]
			if id, _ := line["request_id"].(string); id == "" {
				t.Errorf("audit event %v has no request_id", line)
			}
			if tt.event["grant_type"] != "" && line["remote_ip"] != "127.0.0.1" {
				t.Errorf("audit event %v: remote_ip = %v; want 127.0.0.1", line, line["remote_ip"])
			}
		})
	}
	t.Run("ErrUnknownUserNotNamed", func(t *testing.T) {
		if strings.Contains(logs.String(), "nobody") {
			t.Errorf("the logs name a user that does not exist (it may be a mistyped password)")
		}
	})
	wantNoSecrets(t, logs, tok.AccessToken, tok.RefreshToken, ctok.AccessToken, ctok.RefreshToken, ctok2.AccessToken,
		ctok2.RefreshToken, refreshed.JSON200.AccessToken, refreshed.JSON200.RefreshToken, creds.ClientSecret,
		creds2.ClientSecret, "alice-password", "wrong-password", "bob-password", "wrong-secret", "any-secret")
}

func ptr[T any](v T) *T { return &v }

// scrape returns the metrics of env's server in the text exposition format.
func scrape(t *testing.T, env *Env) string {
	t.Helper()
	resp, body := get(t, env, "/metrics", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d; want 200", resp.StatusCode)
	}
	return body
}

// metric returns the value of the series (name with its labels in alphabetical order,
// as the exposition writes them) in a scrape, or -1 if it is absent.
func metric(t *testing.T, scraped, series string) float64 {
	t.Helper()
	for line := range strings.Lines(scraped) {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric %s: %q is not a number", series, rest)
			}
			return v
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	env, _ := serveOps(t, opsOptions{})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	before := scrape(t, env)
	if got := metric(t, before, `vroauth_tokens_issued_total{grant_type="password"}`); got != 0 {
		t.Errorf("tokens issued before any login = %v; want 0", got)
	}
	if got := metric(t, before, `vroauth_active_sessions`); got != 0 {
		t.Errorf("active sessions before any login = %v; want 0", got)
	}
	if metric(t, before, `go_goroutines`) < 0 || metric(t, before, `process_resident_memory_bytes`) < 0 {
		t.Errorf("the scrape lacks the Go and process collectors")
	}
	tok := env.MustLogin("alice", "alice-password")
	creds := env.MustCreateClient(tok.AccessToken)
	env.MustClientToken(creds)
	env.Token(url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong-password"}})
	get(t, env, "/api/v7.1/Clients", map[string]string{"Authorization": "Bearer not-a-live-token"})
	get(t, env, "/api/v7.1/Clients", map[string]string{"Authorization": "Bearer " + tok.AccessToken})
	get(t, env, "/api/v7.2/Clients", map[string]string{"Authorization": "Bearer " + tok.AccessToken})
	get(t, env, "/api/random-"+core.NewID(), nil) // 401: every /api/ path but the public ones needs a token
	get(t, env, "/random-"+core.NewID(), nil)
	env.Clock.Add(20 * time.Second) // past the session gauge's reuse period

	after := scrape(t, env)
	tests := []struct {
		series string
		want   float64
	}{
		{`vroauth_tokens_issued_total{grant_type="password"}`, 1},
		{`vroauth_tokens_issued_total{grant_type="client_credentials"}`, 1},
		{`vroauth_tokens_issued_total{grant_type="refresh_token"}`, 0},
		{`vroauth_auth_failures_total{method="password",reason="bad_password"}`, 1},
		{`vroauth_auth_failures_total{method="bearer",reason="invalid_token"}`, 1},
		{`vroauth_http_requests_total{code="200",route="IssueToken"}`, 2},
		{`vroauth_http_requests_total{code="400",route="IssueToken"}`, 1},
		{`vroauth_http_requests_total{code="200",route="ListClients"}`, 2},
		{`vroauth_http_requests_total{code="401",route="ListClients"}`, 1},
		{`vroauth_http_requests_total{code="200",route="CreateClient"}`, 1},
		{`vroauth_http_requests_total{code="401",route="not_found"}`, 1},
		{`vroauth_http_requests_total{code="404",route="not_found"}`, 1},
		{`vroauth_http_requests_total{code="200",route="metrics"}`, 1},
		{`vroauth_http_request_duration_seconds_count{route="ListClients"}`, 3},
		{`vroauth_active_sessions`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.series, func(t *testing.T) {
			if got := metric(t, after, tt.series); got != tt.want {
				t.Errorf("%s = %v; want %v", tt.series, got, tt.want)
			}
		})
	}
	t.Run("BoundedLabels", func(t *testing.T) {
		if strings.Contains(after, "random-") {
			t.Errorf("a metric label holds a raw path:\n%s", after)
		}
	})
	t.Run("Unauthenticated", func(t *testing.T) {
		if resp, _ := get(t, env, "/metrics", nil); resp.StatusCode != 200 {
			t.Errorf("GET /metrics without credentials = %d; want 200", resp.StatusCode)
		}
	})
	t.Run("ErrDisabled", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		env, _ := serveOps(t, opsOptions{set: func(c *server.Config) { c.NoMetricsEndpoint, c.Registry = true, reg }})
		if resp, _ := get(t, env, "/metrics", nil); resp.StatusCode != 404 {
			t.Errorf("GET /metrics with NoMetricsEndpoint = %d; want 404", resp.StatusCode)
		}
		families, err := reg.Gather()
		if err != nil || len(families) == 0 {
			t.Errorf("Config.Registry gathered %d families, %v; want the server's metrics", len(families), err)
		}
	})
}

// flakyStore is a real store that fails as a store does when its database cannot be
// reached (EUNAVAILABLE) while down is set.
type flakyStore struct {
	core.Store
	down atomic.Bool
}

func (f *flakyStore) fail() error {
	if f.down.Load() {
		return core.Errorf(core.EUNAVAILABLE, "the database cannot be reached")
	}
	return nil
}

func (f *flakyStore) Ping(ctx context.Context) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Ping(ctx)
}

func (f *flakyStore) FindSessionByAccess(ctx context.Context, hash []byte) (*core.Session, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.FindSessionByAccess(ctx, hash)
}

func (f *flakyStore) FindUserByName(ctx context.Context, name string) (*core.User, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.FindUserByName(ctx, name)
}

func (f *flakyStore) FindClient(ctx context.Context, id string) (*core.Client, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.FindClient(ctx, id)
}

func (f *flakyStore) FindClientIDs(ctx context.Context, userID string) ([]string, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.FindClientIDs(ctx, userID)
}

func (f *flakyStore) CreateSession(ctx context.Context, s *core.Session, exclusive bool) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.CreateSession(ctx, s, exclusive)
}

func (f *flakyStore) RevokeFamily(ctx context.Context, familyID string) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.RevokeFamily(ctx, familyID)
}

func (f *flakyStore) CountSessions(ctx context.Context) (int, error) {
	if err := f.fail(); err != nil {
		return 0, err
	}
	return f.Store.CountSessions(ctx)
}

// Revision forwards to the store's core.Revisioner, so that the verification cache
// works over a flakyStore as over the store itself.
func (f *flakyStore) Revision(ctx context.Context) (uint64, error) {
	if err := f.fail(); err != nil {
		return 0, err
	}
	r, ok := f.Store.(core.Revisioner)
	if !ok {
		return 0, errors.New("the store has no revision")
	}
	return r.Revision(ctx)
}

func readyStatus(t *testing.T, env *Env) int {
	t.Helper()
	resp, _ := get(t, env, "/readyz", nil)
	return resp.StatusCode
}

// TestOutage takes the database away under a running server and brings it back: the
// server reports it at /readyz, keeps accepting the access tokens it verified in the
// last seconds, refuses the others, and recovers on its own.
func TestOutage(t *testing.T) {
	var flaky *flakyStore
	wrap := func(s core.Store) core.Store { flaky = &flakyStore{Store: s}; return flaky }
	env, logs := serveOps(t, opsOptions{wrap: wrap})
	ctx := context.Background()
	alice := env.MustUser("alice", "alice-password", core.RoleAdministrator)
	tok := env.MustLogin("alice", "alice-password")
	creds := env.MustCreateClient(tok.AccessToken)
	ctok := env.MustClientToken(creds)
	unverified := env.MustClientToken(creds) // never presented before the outage
	logoutTok := env.MustLogin("alice", "alice-password")
	for _, tk := range []string{tok.AccessToken, ctok.AccessToken, logoutTok.AccessToken} {
		if got := env.ListStatus(tk); got != 200 {
			t.Fatalf("GET Clients before the outage = %d; want 200", got)
		}
	}
	if r, err := env.Client(logoutTok.AccessToken).LogoutWithResponse(ctx); err != nil || r.StatusCode() != 204 {
		t.Fatalf("logout: %v %d", err, r.StatusCode())
	}
	if got := readyStatus(t, env); got != 200 {
		t.Fatalf("GET /readyz with the database up = %d; want 200", got)
	}

	flaky.down.Store(true)
	env.Clock.Add(5 * time.Second)
	t.Run("ErrNotReady", func(t *testing.T) {
		if got := readyStatus(t, env); got != 503 {
			t.Errorf("GET /readyz with the database down = %d; want 503", got)
		}
	})
	t.Run("OKRecentToken", func(t *testing.T) {
		p, err := env.Server.Verify(ctx, tok.AccessToken)
		if err != nil || p.ID != alice.ID {
			t.Errorf("Verify(user token verified 5s before the outage) = %v, %v; want alice", p, err)
		}
		if got := env.ListStatus(ctok.AccessToken); got != 200 {
			t.Errorf("GET Clients as a client verified 5s before the outage = %d; want 200", got)
		}
	})
	t.Run("ErrUnverifiedToken", func(t *testing.T) {
		if got := env.ListStatus(unverified.AccessToken); got == 200 {
			t.Errorf("GET Clients with a token never verified = %d; want a refusal", got)
		}
	})
	t.Run("ErrLoggedOut", func(t *testing.T) {
		if got := env.ListStatus(logoutTok.AccessToken); got == 200 {
			t.Errorf("GET Clients with a token logged out before the outage = %d; want a refusal", got)
		}
	})
	t.Run("ErrGraceOver", func(t *testing.T) {
		env.Clock.Add(server.DefaultOutageGrace)
		if got := env.ListStatus(ctok.AccessToken); got == 200 {
			t.Errorf("GET Clients %v after the last check, the database down = %d; want a refusal", server.DefaultOutageGrace+5*time.Second, got)
		}
	})

	flaky.down.Store(false)
	t.Run("Recovered", func(t *testing.T) {
		if got := readyStatus(t, env); got != 200 {
			t.Errorf("GET /readyz with the database back = %d; want 200", got)
		}
		if got := env.ListStatus(ctok.AccessToken); got != 200 {
			t.Errorf("GET Clients with the database back = %d; want 200", got)
		}
	})
	t.Run("ErrRevokedElsewhere", func(t *testing.T) {
		// Another instance revokes the session; this one sees it while the database
		// answers, and does not bring the token back when the database goes away.
		s, err := env.Store.FindSessionByAccess(ctx, core.HashToken(ctok.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Store.RevokeFamily(ctx, s.FamilyID); err != nil {
			t.Fatal(err)
		}
		if got := env.ListStatus(ctok.AccessToken); got != 401 {
			t.Errorf("GET Clients with a revoked token = %d; want 401", got)
		}
		flaky.down.Store(true)
		defer flaky.down.Store(false)
		if got := env.ListStatus(ctok.AccessToken); got == 200 {
			t.Errorf("GET Clients with a revoked token, the database down = %d; want a refusal", got)
		}
	})
	t.Run("Logged", func(t *testing.T) {
		logs.MustFind(t, map[string]string{"level": "WARN", "msg": "not ready: the database is unreachable"})
		logs.MustFind(t, map[string]string{"level": "INFO", "msg": "ready again: the database answers"})
		if n := len(logs.Find(t, map[string]string{"msg": "the database is unavailable: accepting access tokens verified in the last seconds"})); n != 1 {
			t.Errorf("fallback warnings = %d; want 1 per outage", n)
		}
	})
	t.Run("Metrics", func(t *testing.T) {
		if got := metric(t, scrape(t, env), `vroauth_verify_fallbacks_total`); got != 2 {
			t.Errorf("vroauth_verify_fallbacks_total = %v; want 2", got)
		}
	})
}

func TestOutageGraceDisabled(t *testing.T) {
	var flaky *flakyStore
	wrap := func(s core.Store) core.Store { flaky = &flakyStore{Store: s}; return flaky }
	env, _ := serveOps(t, opsOptions{wrap: wrap, set: func(c *server.Config) { c.OutageGrace = -1 }})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	tok := env.MustLogin("alice", "alice-password")
	if got := env.ListStatus(tok.AccessToken); got != 200 {
		t.Fatalf("GET Clients = %d; want 200", got)
	}
	flaky.down.Store(true)
	if _, err := env.Server.Verify(context.Background(), tok.AccessToken); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Errorf("Verify with no grace, the database down = %v; want EUNAVAILABLE", err)
	}
}

// TestAuditRateLimited checks that an attempt the failure limiter refuses is audited
// and counted as a failed authentication of its own kind.
func TestAuditRateLimited(t *testing.T) {
	env, logs := serveOps(t, opsOptions{set: func(c *server.Config) { c.AuthFailureBurst = 2 }})
	carol := env.MustUser("carol", "carol-password", core.RolePlanAuthor)
	wrong := url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"wrong-password"}}
	for range 3 {
		env.Token(wrong)
	}
	if n := len(logs.Find(t, map[string]string{"event": server.EventLoginFailure, "reason": "bad_password", "user_id": carol.ID})); n != 2 {
		t.Errorf("bad_password events = %d; want 2 (the burst)", n)
	}
	logs.MustFind(t, map[string]string{"audit": "true", "event": server.EventLoginFailure, "grant_type": "password", "reason": "rate_limited"})
	if got := metric(t, scrape(t, env), `vroauth_auth_failures_total{method="password",reason="rate_limited"}`); got != 1 {
		t.Errorf(`vroauth_auth_failures_total{reason="rate_limited"} = %v; want 1`, got)
	}
}

// TestOutageHotToken checks the fallback behind the verification cache: a token
// presented often is looked up once and then confirmed by the cache's revision checks,
// and those confirmations keep it usable through an outage that starts long after its
// lookup.
func TestOutageHotToken(t *testing.T) {
	var flaky *flakyStore
	wrap := func(s core.Store) core.Store { flaky = &flakyStore{Store: s}; return flaky }
	env, _ := serveOps(t, opsOptions{wrap: wrap})
	if _, ok := env.Store.(core.Revisioner); !ok {
		t.Skip("the store has no revision: no verification cache")
	}
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	tok := env.MustLogin("alice", "alice-password")
	ctok := env.MustClientToken(env.MustCreateClient(tok.AccessToken))
	for range 6 { // one lookup, then cache hits, for 30s: longer than the grace
		if got := env.ListStatus(ctok.AccessToken); got != 200 {
			t.Fatalf("GET Clients = %d; want 200", got)
		}
		env.Clock.Add(5 * time.Second)
	}
	flaky.down.Store(true)
	if got := env.ListStatus(ctok.AccessToken); got != 200 {
		t.Errorf("GET Clients as a client looked up 30s and confirmed 5s before the outage = %d; want 200", got)
	}
}
