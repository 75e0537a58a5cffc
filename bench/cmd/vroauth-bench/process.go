package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a server the load test drives: vroauth serve or the bare handler.
type process struct {
	cmd     *exec.Cmd
	url     string // http://127.0.0.1:port
	pprof   string // host:port of the server's pprof listener, if any
	logPath string
	exited  chan struct{}

	mu   sync.Mutex
	peak int64 // the highest VmRSS sampled, bytes
}

// startServer starts vroauth serve on the seeded database, on 127.0.0.1.
func startServer(ctx context.Context, o *options, sd *seed, dir string) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"serve", "--addr", addr, "--db", sd.dbPath, "--log-format", "json"}
	pprofAddr := ""
	if o.profileDir != "" {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		pprofAddr = "127.0.0.1:" + strconv.Itoa(port)
		args = append(args, "--pprof-addr", pprofAddr)
	}
	args = append(args, o.serverArgs...)
	p, err := start(ctx, exec.Command(o.vroauth, args...), filepath.Join(dir, "server.log"), addr)
	if err != nil {
		return nil, fmt.Errorf("start vroauth serve: %w", err)
	}
	p.pprof = pprofAddr
	return p, nil
}

// startBare starts the bare handler, this program again, answering with canned.
func startBare(ctx context.Context, canned map[string]cannedResponse, dir string) (*process, error) {
	path := filepath.Join(dir, "canned.json")
	b, err := json.Marshal(canned)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p, err := start(ctx, exec.Command(self, "-bare-serve", path, addr), filepath.Join(dir, "bare.log"), addr)
	if err != nil {
		return nil, fmt.Errorf("start the bare handler: %w", err)
	}
	return p, nil
}

// start runs cmd with its stdout and stderr going straight to the file logPath (a
// pipe read by this process would take CPU from the server it measures), and waits
// until it accepts connections on addr.
func start(ctx context.Context, cmd *exec.Cmd, logPath, addr string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "VROAUTH_ADMIN_USERNAME=", "VROAUTH_ADMIN_PASSWORD=")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, url: "http://" + addr, logPath: logPath, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("it exited; see %s", logPath)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("it did not listen within 30s; see %s", logPath)
		}
	}
}

// stop ends the process with SIGTERM, then SIGKILL after 10 seconds.
func (p *process) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// sampleRSS records the process's VmRSS every 100 ms until the returned function is
// called.
func (p *process) sampleRSS() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if rss := procStatus(p.cmd.Process.Pid, "VmRSS"); rss > 0 {
				p.mu.Lock()
				p.peak = max(p.peak, rss)
				p.mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// peakRSS returns the process's peak resident memory: VmHWM, or the highest sample.
func (p *process) peakRSS() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(p.peak, procStatus(p.cmd.Process.Pid, "VmHWM"))
}

// procStatus returns the field of /proc/<pid>/status in bytes, or 0.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// capture makes one request of each shape the scenarios send and records the
// server's answers, for the bare handler to copy. Each must succeed.
func capture(ctx context.Context, base string, sd *seed) (map[string]cannedResponse, error) {
	canned := map[string]cannedResponse{}
	id, secret, _ := strings.Cut(sd.credentials[0], " ")
	do := func(method, path, contentType, body, token string) (cannedResponse, error) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if err != nil {
			return cannedResponse{}, err
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return cannedResponse{}, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return cannedResponse{}, err
		}
		if resp.StatusCode/100 != 2 {
			return cannedResponse{}, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
		}
		c := cannedResponse{Status: resp.StatusCode, Header: map[string][]string{}, Body: string(b)}
		for k, v := range resp.Header {
			if k != "Date" && k != "Content-Length" {
				c.Header[k] = v
			}
		}
		canned[method+" "+strings.SplitN(path, "?", 2)[0]] = c
		return c, nil
	}
	const form = "application/x-www-form-urlencoded"
	if _, err := do("POST", "/api/token", form, "grant_type=client_credentials&client_id="+id+"&client_secret="+secret, ""); err != nil {
		return nil, err
	}
	if _, err := do("GET", "/api/v7.1/Clients", "", "", sd.accessTokens[0]); err != nil {
		return nil, err
	}
	created, err := do("POST", "/api/v7.1/Clients", "", "", sd.userToken)
	if err != nil {
		return nil, err
	}
	var c struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal([]byte(created.Body), &c); err != nil || c.ClientID == "" {
		return nil, errors.New("POST Clients answered no client_id")
	}
	if _, err := do("DELETE", "/api/v7.1/Clients?clientId="+c.ClientID, "", "", sd.userToken); err != nil {
		return nil, err
	}
	return canned, nil
}
