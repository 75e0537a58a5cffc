package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveWith runs serve in process with c (its address and database chosen here) and
// returns the address it listens on; the server stops when the test ends.
func serveWith(t *testing.T, c serveConfig) string {
	t.Helper()
	c.addr = "127.0.0.1:0"
	c.db = filepath.Join(t.TempDir(), "vroauth.db")
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	stderr := &syncBuffer{}
	env := &Env{
		Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: stderr,
		Getenv:   func(k string) string { return admin[k] },
		OnListen: func(a string) { addr <- a },
	}
	log, err := newLogger(env, "text", "debug")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, env, c, log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case a := <-addr:
		return a
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, stderr)
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not start\n%s", stderr)
	}
	return ""
}

// TestSlowLoris opens many connections that send their headers one byte at a time:
// the server answers a normal request meanwhile, and closes every slow connection once
// the header timeout has passed, however steadily the bytes trickle in.
func TestSlowLoris(t *testing.T) {
	const (
		conns        = 64
		headerLimit  = 500 * time.Millisecond
		trickleEvery = 20 * time.Millisecond
		bound        = 10 * time.Second // far beyond the header timeout, far below the others
	)
	addr := serveWith(t, serveConfig{http: httpLimits{
		readHeader: headerLimit, read: time.Minute, write: time.Minute, idle: time.Minute, maxHeaderBytes: 16 << 10,
	}})

	stop := make(chan struct{})
	defer close(stop)
	closed := make(chan error, conns)
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go trickle(c, "GET /healthz HTTP/1.1\r\nHost: vroauth\r\nX-Slow: ", trickleEvery, stop)
		go func() {
			c.SetReadDeadline(time.Now().Add(bound))
			_, err := io.Copy(io.Discard, c) // returns when the server closes the connection
			closed <- err
		}()
	}

	client := &http.Client{Timeout: bound}
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("a normal request among %d slow connections: %v", conns, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a normal request among %d slow connections: status %d; want 200", conns, resp.StatusCode)
	}

	for i := range conns {
		err := <-closed
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("slow connection %d still open after %v with a header timeout of %v", i+1, bound, headerLimit)
		}
	}
	// The server is still there for the next caller.
	resp, err = client.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a normal request after the slow connections: %v %v", resp, err)
	}
	resp.Body.Close()
}

// trickle writes prefix, then one byte every every, until a write fails or stop closes.
func trickle(c net.Conn, prefix string, every time.Duration, stop <-chan struct{}) {
	if _, err := io.WriteString(c, prefix); err != nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if _, err := c.Write([]byte("a")); err != nil {
				return
			}
		}
	}
}

// TestHTTPLimits checks the limits `vroauth serve` runs with, and that a header block
// beyond the limit is refused.
func TestHTTPLimits(t *testing.T) {
	t.Run("OKDefaults", func(t *testing.T) {
		d := httpLimits{}.orDefault()
		if d.readHeader <= 0 || d.readHeader > 5*time.Second || d.read <= 0 || d.read > 15*time.Second ||
			d.write <= 0 || d.write > 30*time.Second || d.idle <= 0 || d.idle > 2*time.Minute ||
			d.maxHeaderBytes <= 0 || d.maxHeaderBytes > 16<<10 {
			t.Errorf("default limits = %+v; want every one set and at most 5s, 15s, 30s, 2m, 16 KiB", d)
		}
	})
	t.Run("ErrHeaderTooLarge", func(t *testing.T) {
		addr := serveWith(t, serveConfig{})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		var wg sync.WaitGroup
		wg.Go(func() {
			io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: vroauth\r\nX-Big: "+strings.Repeat("a", 64<<10)+"\r\n\r\n")
		})
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		wg.Wait()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("a 64 KiB header: status %d; want 431", resp.StatusCode)
		}
	})
}
