package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// childEnv, set to 1, makes the test binary run vroauth's main with its arguments
// instead of the tests: TestDurability starts the server as a separate process this
// way, without needing the go command.
const childEnv = "VROAUTH_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// durabilityRounds is the number of kill-and-restart rounds TestDurability runs unless
// VROAUTH_DURABILITY_ROUNDS says otherwise.
const durabilityRounds = 5

// TestDurability checks that nothing acknowledged is lost, and nothing half-written
// shows, when the server is killed with SIGKILL. Each round starts `vroauth serve` as
// a separate process on a new SQLite database, has several goroutines create and
// delete clients, issue client_credentials tokens and revoke them, kills the server at
// a random moment, restarts it on the same database and checks that:
//   - every client whose creation was answered 200 is listed and authenticates with its
//     secret, and every token issued to it (and not revoked or deleted) still works;
//   - every client whose deletion was answered 204 is gone and does not authenticate;
//   - every token whose revocation was answered 200 is dead, both of its pair;
//   - every listed client is one whose creation was answered 200, or one of the
//     creations that got no answer, and every one of those we know authenticates.
//
// Run it longer with VROAUTH_DURABILITY_ROUNDS=200 go test -run TestDurability ./cmd/vroauth.
func TestDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes; skipped with -short")
	}
	rounds := durabilityRounds
	if v := os.Getenv("VROAUTH_DURABILITY_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("VROAUTH_DURABILITY_ROUNDS=%q; want a positive integer", v)
		}
		rounds = n
	}
	var total tally
	done := 0
	for i := range rounds {
		if !runDurabilityRound(t, i, &total) {
			break
		}
		done++
	}
	t.Logf("%d rounds passed: acknowledged %d client creations, %d deletions, %d token grants, %d revocations; %d creations, %d deletions and %d revocations were in flight at the kill",
		done, total.created, total.deleted, total.granted, total.revoked, total.unknownCreates, total.unknownDeletes, total.unknownRevokes)
}

// tally counts what a round acknowledged and what it left in flight.
type tally struct {
	created, deleted, granted, revoked             int
	unknownCreates, unknownDeletes, unknownRevokes int
}

func (a *tally) add(b tally) {
	a.created += b.created
	a.deleted += b.deleted
	a.granted += b.granted
	a.revoked += b.revoked
	a.unknownCreates += b.unknownCreates
	a.unknownDeletes += b.unknownDeletes
	a.unknownRevokes += b.unknownRevokes
}

// The states of an operation whose outcome the check depends on.
const (
	notTried = iota
	inFlight // sent; no answer came before the kill
	acked    // answered with success
)

type durableClient struct {
	id, secret string
	deletion   int
	tokens     []*durableToken
}

type durableToken struct {
	access, refresh string
	revocation      int
}

// durableState is what the workers of a round learned, guarded by mu.
type durableState struct {
	mu             sync.Mutex
	clients        []*durableClient
	unknownCreates int
}

// serverProcess is `vroauth serve` running as a child process.
type serverProcess struct {
	cmd    *exec.Cmd
	url    string
	http   *http.Client
	logs   *tailLog
	exited chan error
}

// tailLog keeps the last lines a child wrote, for failure messages.
type tailLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *tailLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lines = append(l.lines, line); len(l.lines) > 40 {
		l.lines = l.lines[1:]
	}
}

func (l *tailLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// startServer starts `vroauth serve` on db in a child process and waits until it
// listens.
func startServer(t *testing.T, db string) *serverProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--addr", "127.0.0.1:0", "--db", db, "--log-format", "json", "--purge-interval", "0",
		"--auth-failures-per-minute", "-1") // the check makes deleted clients fail to authenticate, many times
	cmd.Env = append(os.Environ(), childEnv+"=1",
		"VROAUTH_ADMIN_USERNAME=admin", "VROAUTH_ADMIN_PASSWORD=durable-admin-password")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{cmd: cmd, logs: &tailLog{}, exited: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.logs.add(sc.Text())
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
		io.Copy(io.Discard, stderr)
		p.exited <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		p.url = "http://" + a
	case err := <-p.exited:
		t.Fatalf("vroauth serve exited before listening: %v\n%s", err, p.logs)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("vroauth serve did not listen within 30s\n%s", p.logs)
	}
	p.http = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	t.Cleanup(func() { p.kill() })
	return p
}

// kill sends SIGKILL and waits for the process to end.
func (p *serverProcess) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
	}
	p.http.CloseIdleConnections()
}

// do sends a request and returns the status and the body, or the transport error.
func (p *serverProcess) do(method, path, token string, form url.Values) (int, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, p.url+path, body)
	if err != nil {
		return 0, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

type durablePair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func (p *serverProcess) mustLogin(t *testing.T) string {
	t.Helper()
	status, body, err := p.do("POST", "/api/token", "", url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"durable-admin-password"}})
	var tok durablePair
	if err != nil || status != 200 || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("admin login: %v %d %s\n%s", err, status, body, p.logs)
	}
	return tok.AccessToken
}

func (p *serverProcess) grant(c *durableClient) (int, durablePair, error) {
	status, body, err := p.do("POST", "/api/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {c.id}, "client_secret": {c.secret}})
	var tok durablePair
	if err == nil && status == 200 {
		err = json.Unmarshal(body, &tok)
	}
	return status, tok, err
}

// runDurabilityRound runs one round and adds its counts to total; it returns false if
// the round failed.
func runDurabilityRound(t *testing.T, round int, total *tally) bool {
	db := filepath.Join(t.TempDir(), fmt.Sprintf("round%d.db", round))
	srv := startServer(t, db)
	admin := srv.mustLogin(t)
	st := &durableState{}
	var (
		killed atomic.Bool
		wg     sync.WaitGroup
		counts [8]tally
	)
	for w := range len(counts) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !killed.Load() {
				if !durableStep(t, srv, admin, st, &counts[w], &killed) {
					return
				}
			}
		}()
	}
	time.Sleep(time.Duration(50+rand.N(350)) * time.Millisecond)
	killed.Store(true)
	srv.kill()
	wg.Wait()
	var got tally
	for _, c := range counts {
		got.add(c)
	}
	got.unknownCreates = st.unknownCreates
	for _, c := range st.clients {
		if c.deletion == inFlight {
			got.unknownDeletes++
		}
		for _, tk := range c.tokens {
			if tk.revocation == inFlight {
				got.unknownRevokes++
			}
		}
	}
	if t.Failed() {
		return false
	}

	srv = startServer(t, db)
	defer srv.kill()
	admin = srv.mustLogin(t)
	checkDurable(t, round, srv, admin, st)
	total.add(got)
	return !t.Failed()
}

// durableStep runs one random operation and records what was acknowledged. It returns
// false once the server is gone.
func durableStep(t *testing.T, srv *serverProcess, admin string, st *durableState, n *tally, killed *atomic.Bool) bool {
	gone := func(err error, what string) bool {
		if !killed.Load() {
			t.Errorf("%s before the kill: %v", what, err)
		}
		return false
	}
	pick := func(ok func(*durableClient) bool) *durableClient {
		st.mu.Lock()
		defer st.mu.Unlock()
		var cands []*durableClient
		for _, c := range st.clients {
			if ok(c) {
				cands = append(cands, c)
			}
		}
		if len(cands) == 0 {
			return nil
		}
		return cands[rand.N(len(cands))]
	}
	live := func(c *durableClient) bool { return c.deletion == notTried }
	switch op := rand.N(100); {
	case op < 35: // create a client
		st.mu.Lock()
		st.unknownCreates++
		st.mu.Unlock()
		status, body, err := srv.do("POST", "/api/v7.1/Clients", admin, nil)
		if err != nil {
			return gone(err, "POST Clients")
		}
		var created struct {
			ID     string `json:"client_id"`
			Secret string `json:"client_secret"`
		}
		if status != 200 || json.Unmarshal(body, &created) != nil {
			t.Errorf("POST Clients = %d %s; want 200", status, body)
			return false
		}
		st.mu.Lock()
		st.unknownCreates--
		st.clients = append(st.clients, &durableClient{id: created.ID, secret: created.Secret})
		st.mu.Unlock()
		n.created++
	case op < 65: // issue tokens to a client
		c := pick(live)
		if c == nil {
			return true
		}
		status, tok, err := srv.grant(c)
		if err != nil && status == 0 {
			return gone(err, "client_credentials grant")
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		switch {
		case status == 200 && err == nil:
			c.tokens = append(c.tokens, &durableToken{access: tok.AccessToken, refresh: tok.RefreshToken})
			n.granted++
		case c.deletion == notTried:
			t.Errorf("client_credentials grant of a live client = %d, %v; want 200", status, err)
			return false
		}
	case op < 85: // revoke a token
		st.mu.Lock()
		var cands []*durableToken
		for _, c := range st.clients {
			for _, tk := range c.tokens {
				if tk.revocation == notTried {
					cands = append(cands, tk)
				}
			}
		}
		if len(cands) == 0 {
			st.mu.Unlock()
			return true
		}
		tk := cands[rand.N(len(cands))]
		tk.revocation = inFlight
		st.mu.Unlock()
		which := tk.refresh
		if rand.N(2) == 0 {
			which = tk.access
		}
		status, body, err := srv.do("POST", "/api/revoke", "", url.Values{"token": {which}})
		if err != nil {
			return gone(err, "POST /api/revoke")
		}
		if status != 200 {
			t.Errorf("POST /api/revoke = %d %s; want 200", status, body)
			return false
		}
		st.mu.Lock()
		tk.revocation = acked
		st.mu.Unlock()
		n.revoked++
	default: // delete a client
		st.mu.Lock()
		var c *durableClient
		for _, cand := range st.clients {
			if cand.deletion == notTried && rand.N(3) == 0 {
				c = cand
				break
			}
		}
		if c == nil {
			st.mu.Unlock()
			return true
		}
		c.deletion = inFlight
		st.mu.Unlock()
		status, body, err := srv.do("DELETE", "/api/v7.1/Clients?clientId="+c.id, admin, nil)
		if err != nil {
			return gone(err, "DELETE Clients")
		}
		if status != 204 {
			t.Errorf("DELETE Clients = %d %s; want 204", status, body)
			return false
		}
		st.mu.Lock()
		c.deletion = acked
		st.mu.Unlock()
		n.deleted++
	}
	return true
}

// checkDurable checks, on the restarted server, everything the round acknowledged.
func checkDurable(t *testing.T, round int, srv *serverProcess, admin string, st *durableState) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Errorf("round %d: "+format, append([]any{round}, args...)...)
	}
	if status, _, err := srv.do("GET", "/readyz", "", nil); err != nil || status != 200 {
		fail("GET /readyz after the restart = %d, %v; want 200", status, err)
	}
	status, body, err := srv.do("GET", "/api/v7.1/Clients", admin, nil)
	var listed []string
	if err != nil || status != 200 || json.Unmarshal(body, &listed) != nil {
		t.Fatalf("round %d: GET Clients after the restart = %d %s, %v", round, status, body, err)
	}
	inList := map[string]bool{}
	for _, id := range listed {
		inList[id] = true
	}
	known := map[string]bool{}
	for _, c := range st.clients {
		known[c.id] = true
		status, _, err := srv.grant(c)
		if err != nil && status == 0 {
			t.Fatalf("round %d: grant after the restart: %v", round, err)
		}
		switch {
		case c.deletion == acked && (inList[c.id] || status == 200):
			fail("client %s deleted with 204: listed %t, grant %d; want gone", c.id, inList[c.id], status)
		case c.deletion == notTried && (!inList[c.id] || status != 200):
			fail("client %s created with 200: listed %t, grant %d; want listed and 200", c.id, inList[c.id], status)
		case c.deletion == inFlight && inList[c.id] != (status == 200):
			fail("client %s in the middle of its deletion: listed %t but grant %d", c.id, inList[c.id], status)
		}
		for _, tk := range c.tokens {
			accessStatus, _, err := srv.do("GET", "/api/v7.1/Clients", tk.access, nil)
			if err != nil {
				t.Fatalf("round %d: GET Clients after the restart: %v", round, err)
			}
			switch {
			case tk.revocation == acked || c.deletion == acked:
				refreshStatus, _, err := srv.do("POST", "/api/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.refresh}})
				if err != nil || accessStatus != 401 || refreshStatus != 400 {
					fail("token revoked or deleted with success: access %d, refresh %d %v; want 401, 400", accessStatus, refreshStatus, err)
				}
			case tk.revocation == notTried && c.deletion == notTried && accessStatus != 200:
				fail("token issued with 200, never revoked: GET Clients = %d; want 200", accessStatus)
			}
		}
	}
	unknown := 0
	for _, id := range listed {
		if !known[id] {
			unknown++
		}
	}
	if unknown > st.unknownCreates {
		fail("%d listed clients were never acknowledged, but only %d creations were in flight", unknown, st.unknownCreates)
	}
}
