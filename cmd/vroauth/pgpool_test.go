package main

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/postgres/pgtest"
)

// TestServePoolFlagsErr checks the pool flags and their environment twins before any
// database is reached.
func TestServePoolFlagsErr(t *testing.T) {
	const db = "postgres://nobody@127.0.0.1:1/x?connect_timeout=5"
	key := filepath.Join(t.TempDir(), "secret.key")
	tests := []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"ErrNoConns", nil, []string{"--pg-max-conns", "0"}, "invalid value"},
		{"ErrNotANumber", nil, []string{"--pg-max-conns", "many"}, "invalid value"},
		{"ErrNegativeMin", nil, []string{"--pg-min-conns", "-1"}, "invalid value"},
		{"ErrNoLifetime", nil, []string{"--pg-max-conn-lifetime", "0s"}, "invalid value"},
		{"ErrMinAboveMax", nil, []string{"--pg-max-conns", "2", "--pg-min-conns", "3"}, "pool of 3 to 2"},
		{"ErrEnvTwin", map[string]string{"VROAUTH_PG_MAX_CONNS": "0"}, nil, "VROAUTH_PG_MAX_CONNS"},
		{"ErrEnvTwinMinAboveFlagMax", map[string]string{"VROAUTH_PG_MIN_CONNS": "5"}, []string{"--pg-max-conns", "4"}, "pool of 5 to 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--db", db, "--secret-key-file", key}, tt.args...)
			err := Run(t.Context(), args, &Env{
				Stdin: strings.NewReader(""), Stdout: &syncBuffer{}, Stderr: &syncBuffer{},
				Getenv: func(k string) string { return tt.vars[k] },
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("vroauth %v with %v = %v; want an error containing %q", tt.args, tt.vars, err, tt.want)
			}
		})
	}
}

// TestServePoolFlags starts a server whose pool keeps 3 connections open while idle
// (set through the environment twin) and opens at most 4 (set by the flag), and counts
// its connections in pg_stat_activity, under the application name the DSN gives it.
func TestServePoolFlags(t *testing.T) {
	const minConns, maxConns = 3, 4
	app := "vroauth_pool_" + strings.ReplaceAll(core.NewID(), "-", "")[:12]
	dsn, err := pgtest.WithParam(pgtest.DSN(t), "application_name", app)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"VROAUTH_PG_MIN_CONNS": "3"}
	for k, v := range admin {
		vars[k] = v
	}
	srv, err := startServe(t, vars, "--db", dsn, "--secret-key-file", filepath.Join(t.TempDir(), "k"), "--pg-max-conns", "4")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), pgtest.BaseDSN(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	count := func() int {
		t.Helper()
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
			t.Fatalf("count connections: %v", err)
		}
		return n
	}

	// The pool opens its idle connections in the background.
	for deadline := time.Now().Add(30 * time.Second); count() < minConns; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("connections of an idle server with --pg-min-conns %d: %d after 30 s; want %d", minConns, count(), minConns)
		}
	}

	token, _ := mustGrant(t, srv, password(admin["VROAUTH_ADMIN_USERNAME"], admin["VROAUTH_ADMIN_PASSWORD"]))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 32 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					if got := listStatus(t, srv, token); got != 200 {
						t.Errorf("GET Clients under load = %d; want 200", got)
						return
					}
				}
			}
		})
	}
	most := 0
	for range 50 {
		most = max(most, count())
	}
	close(stop)
	wg.Wait()
	if most > maxConns || most < minConns {
		t.Errorf("connections of a server with --pg-max-conns %d under 32 concurrent clients: up to %d; want %d to %d", maxConns, most, minConns, maxConns)
	}
}
