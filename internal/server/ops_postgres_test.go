package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vroauth/vroauth/auth"

	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/postgres"
	"github.com/vroauth/vroauth/internal/server"
)

// cutProxy forwards TCP connections to a database until it is cut: then it drops
// every connection and refuses new ones, as a database host that went away; restore
// serves again on the same address.
type cutProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{t: t, target: target, addr: ln.Addr().String(), conns: map[net.Conn]bool{}}
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *cutProxy) forward(c net.Conn) {
	b, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, b) {
		return
	}
	go func() { io.Copy(b, c); b.Close() }()
	io.Copy(c, b)
	c.Close()
}

// track records both ends of a forwarded connection, or closes them if the proxy was
// cut meanwhile.
func (p *cutProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = true
	}
	return true
}

// cut closes the listener and every connection.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// restore listens again on the proxy's address.
func (p *cutProxy) restore() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// TestOutagePostgres cuts a real PostgreSQL database off a running server and brings
// it back: /readyz follows, the recently verified access token keeps working, and the
// server recovers on its own.
func TestOutagePostgres(t *testing.T) {
	dsn := os.Getenv("VROAUTH_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("set VROAUTH_TEST_POSTGRES=postgres://... to run the PostgreSQL tests (see .ci/postgres.sh)")
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		t.Skipf("VROAUTH_TEST_POSTGRES is not a postgres:// URL with a host")
	}
	ctx := context.Background()
	schema := "test_" + strings.ReplaceAll(core.NewID(), "-", "")[:20]
	exec := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`CREATE SCHEMA ` + schema)
	t.Cleanup(func() { exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	proxy := startProxy(t, u.Host)
	u.Host = proxy.addr
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()

	env, _ := serveOps(t, opsOptions{
		open: func(now core.Clock) core.Store {
			db, err := postgres.Open(ctx, u.String(), postgres.WithClock(now), postgres.WithMaxConns(4))
			if err != nil {
				t.Fatalf("open PostgreSQL through the proxy: %v", err)
			}
			return db
		},
		set: func(c *server.Config) { c.ProbeTimeout = 500 * time.Millisecond },
	})
	alice := env.MustUser("alice", "alice-password", core.RoleAdministrator)
	tok := env.MustLogin("alice", "alice-password")
	ctok := env.MustClientToken(env.MustCreateClient(tok.AccessToken))
	for _, tk := range []string{tok.AccessToken, ctok.AccessToken} {
		if got := env.ListStatus(tk); got != 200 {
			t.Fatalf("GET Clients before the outage = %d; want 200", got)
		}
	}

	proxy.cut()
	t.Run("ErrUnavailableBrokenConnection", func(t *testing.T) {
		// The pool's idle connections are broken, and it does not know yet.
		_, err := env.Server.Verify(ctx, core.NewToken())
		if code := core.ErrorCode(err); code != core.EUNAVAILABLE {
			t.Errorf("Verify(unknown token) on a broken pooled connection = %v (%s); want EUNAVAILABLE", err, code)
		}
	})
	t.Run("ErrNotReady", func(t *testing.T) {
		if got := readyStatus(t, env); got != 503 {
			t.Errorf("GET /readyz with the database cut off = %d; want 503", got)
		}
	})
	t.Run("OKRecentToken", func(t *testing.T) {
		for range 3 { // through broken pooled connections, then refused new ones
			p, err := env.Server.Verify(ctx, tok.AccessToken)
			if err != nil || p.ID != alice.ID {
				t.Errorf("Verify(token verified before the outage) = %v, %v; want alice", p, err)
			}
			if got := env.ListStatus(ctok.AccessToken); got != 200 {
				t.Errorf("GET Clients as a client verified before the outage = %d; want 200", got)
			}
		}
	})
	t.Run("ErrUnknownToken", func(t *testing.T) {
		_, err := env.Server.Verify(ctx, core.NewToken())
		if code := core.ErrorCode(err); code != core.EUNAVAILABLE {
			t.Errorf("Verify(unknown token) with the database cut off = %v (%s); want EUNAVAILABLE", err, code)
		}
	})

	proxy.restore()
	t.Run("Recovered", func(t *testing.T) {
		deadline := time.Now().Add(time.Minute)
		for readyStatus(t, env) != 200 {
			if time.Now().After(deadline) {
				t.Fatalf("GET /readyz did not answer 200 within a minute of the database's return")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got := env.ListStatus(tok.AccessToken); got != 200 {
			t.Errorf("GET Clients with the database back = %d; want 200", got)
		}
		if _, err := env.Server.Verify(ctx, core.NewToken()); !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("Verify(unknown token) with the database back = %v; want the invalid-token error", err)
		}
	})
}
