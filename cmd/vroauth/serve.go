package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/server"
)

// serveConfig is the configuration of `vroauth serve`.
type serveConfig struct {
	addr          string
	db            string
	tlsCert       string
	tlsKey        string
	accessTTL     time.Duration
	refreshTTL    time.Duration
	singleSession bool
	validateReqs  bool
	secretKeyFile string
	logFormat     string
	logLevel      string
	purgeEvery    time.Duration
	pgPool        pgPool // --pg-* flags, PostgreSQL only

	authFailuresPerMinute float64 // see server.Config
	authFailureBurst      int
	http                  httpLimits // zero: defaultHTTPLimits (tests shorten them)
	pprofAddr             string

	metrics     bool          // serve /metrics
	outageGrace time.Duration // see server.Config.OutageGrace; 0 turns the fallback off
}

func runServe(ctx context.Context, env *Env, args []string) error {
	var c serveConfig
	fs := newFlagSet(env, "serve", "serve [flags]")
	fs.StringVar(&c.addr, "addr", ":9898", "`address` to listen on")
	fs.StringVar(&c.db, "db", "vroauth.db", "SQLite file, or a postgres:// URL")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate `file` (HTTPS when given with --tls-key)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "TLS private key `file`")
	fs.DurationVar(&c.accessTTL, "access-token-ttl", server.DefaultAccessTTL, "access token lifetime")
	fs.DurationVar(&c.refreshTTL, "refresh-token-ttl", server.DefaultRefreshTTL, "refresh token lifetime")
	fs.BoolVar(&c.singleSession, "single-session", false, "a new login ends the older sessions of the same credentials (as the Orchestrator can)")
	fs.BoolVar(&c.validateReqs, "validate-requests", false, "check every API request against the OpenAPI contract and answer 400 to one that breaks it")
	fs.StringVar(&c.secretKeyFile, "secret-key-file", "", "`file` holding the key that hashes client secrets (default: <db>.key beside a SQLite file; required with PostgreSQL)")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&c.purgeEvery, "purge-interval", time.Minute, "how often expired sessions are deleted")
	c.pgPool.addFlags(fs)
	fs.Float64Var(&c.authFailuresPerMinute, "auth-failures-per-minute", server.DefaultAuthFailuresPerMinute, "failed password or client-secret attempts allowed per minute per account and source address once the burst is spent (5x per address, 10x per account); negative turns the limits off")
	fs.IntVar(&c.authFailureBurst, "auth-failure-burst", server.DefaultAuthFailureBurst, "failed attempts allowed in a row per account and source address before they are refused with 429")
	fs.BoolVar(&c.metrics, "metrics", true, "serve Prometheus metrics at /metrics, without authentication (they reveal no secret); --metrics=false turns them off")
	fs.DurationVar(&c.outageGrace, "outage-grace", server.DefaultOutageGrace, "while the database is unavailable, accept access tokens it confirmed this recently (0: never)")
	fs.StringVar(&c.pprofAddr, "pprof-addr", "", "serve runtime profiles (/debug/pprof/) on this `address`; keep it on loopback")
	if err := parseWithEnv(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	log, err := newLogger(env, c.logFormat, c.logLevel)
	if err != nil {
		return err
	}
	return serve(ctx, env, c, log)
}

func serve(ctx context.Context, env *Env, c serveConfig, log *slog.Logger) error {
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("serve: give both --tls-cert and --tls-key, or neither")
	}
	keyFile, err := secretKeyPath(c)
	if err != nil {
		return err
	}
	key, err := loadOrCreateKey(keyFile, log)
	if err != nil {
		return err
	}
	secrets, err := core.NewSecretHasher(key)
	if err != nil {
		return fmt.Errorf("serve: %s: %w", keyFile, err)
	}
	store, err := openStore(ctx, c.db, c.pgPool.opts...)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := bootstrapAdmin(ctx, env, store, log); err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		Store: store, Secrets: secrets, Logger: log,
		AccessTTL: c.accessTTL, RefreshTTL: c.refreshTTL, SingleSession: c.singleSession,
		ValidateRequests:      c.validateReqs,
		AuthFailuresPerMinute: c.authFailuresPerMinute, AuthFailureBurst: c.authFailureBurst,
		NoMetricsEndpoint: !c.metrics, OutageGrace: outageGrace(c.outageGrace),
	})
	if err != nil {
		return err
	}
	if err := startPprof(ctx, c.pprofAddr, log); err != nil {
		return err
	}
	go purgeLoop(ctx, store, c.purgeEvery, log)
	return listenAndServe(ctx, env, c, srv.Handler(), log)
}

// listenAndServe serves h until ctx ends, then lets the requests in flight finish.
func listenAndServe(ctx context.Context, env *Env, c serveConfig, h http.Handler, log *slog.Logger) error {
	lim := c.http.orDefault()
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.readHeader,
		ReadTimeout:       lim.read,
		WriteTimeout:      lim.write,
		IdleTimeout:       lim.idle,
		MaxHeaderBytes:    lim.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	scheme := "https"
	if c.tlsCert == "" {
		scheme = "http"
		log.Warn("serving plain HTTP: tokens and secrets cross the network in clear; use --tls-cert and --tls-key outside a test bench")
	}
	log.Info("listening", "addr", ln.Addr().String(), "scheme", scheme, "version", version)
	if env.OnListen != nil {
		env.OnListen(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() {
		if c.tlsCert != "" {
			errc <- hs.ServeTLS(ln, c.tlsCert, c.tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return hs.Shutdown(shutdownCtx)
}

func purgeLoop(ctx context.Context, store core.Store, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := store.PurgeExpired(ctx)
			if err != nil && ctx.Err() == nil {
				log.Warn("purging expired sessions failed", "err", err)
			} else if n > 0 {
				log.Debug("purged expired sessions", "count", n)
			}
		}
	}
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// secretKeyPath returns where the client-secret key lives: --secret-key-file, or beside
// a SQLite database. PostgreSQL servers share one key, so it must be named.
func secretKeyPath(c serveConfig) (string, error) {
	switch {
	case c.secretKeyFile != "":
		return c.secretKeyFile, nil
	case isPostgres(c.db):
		return "", errors.New("serve: --secret-key-file is required with PostgreSQL: every instance must hash client secrets with the same key, and the key must not live in the database")
	case c.db == ":memory:":
		return "", errors.New("serve: --secret-key-file is required with an in-memory database")
	}
	return c.db + ".key", nil
}

// loadOrCreateKey reads the client-secret key from path, creating it (256 random bits,
// mode 0600) if it does not exist yet.
func loadOrCreateKey(path string, log *slog.Logger) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var key [32]byte
		rand.Read(key[:])
		text := base64.StdEncoding.EncodeToString(key[:]) + "\n"
		switch err := createKeyFile(path, []byte(text)); {
		case errors.Is(err, fs.ErrExist): // another instance created it first
			return loadOrCreateKey(path, log)
		case err != nil:
			return nil, fmt.Errorf("serve: create secret key: %w", err)
		}
		log.Info("created the client-secret key; back it up with the database", "file", path)
		return key[:], nil
	}
	if err != nil {
		return nil, fmt.Errorf("serve: read secret key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the client-secret key file is readable by other users; chmod 600 it", "file", path)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("serve: %s is not a base64 key", path)
	}
	return key, nil
}

// firstAdministratorID is the ID of the Administrator that serve creates in an empty
// database. One fixed ID makes instances that start at once on one PostgreSQL
// database, whatever VROAUTH_ADMIN_USERNAME each was given, create one
// Administrator: the others' inserts conflict on the key.
const firstAdministratorID = "00000000-0000-4000-8000-000000000001"

// bootstrapAdmin creates the first Administrator of an empty database, from
// VROAUTH_ADMIN_USERNAME and VROAUTH_ADMIN_PASSWORD, or with a random password printed
// once to stderr.
func bootstrapAdmin(ctx context.Context, env *Env, store core.Store, log *slog.Logger) error {
	n, err := store.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	name := env.Getenv("VROAUTH_ADMIN_USERNAME")
	if name == "" {
		name = "admin"
	}
	password := env.Getenv("VROAUTH_ADMIN_PASSWORD")
	generated := password == ""
	if generated {
		password = core.NewToken()[:24]
	}
	u, err := newUser(name, password, core.RoleAdministrator)
	if err != nil {
		return fmt.Errorf("serve: first administrator: %w", err)
	}
	u.ID = firstAdministratorID
	if err := store.CreateUser(ctx, u); core.ErrorCode(err) == core.ECONFLICT {
		log.Info("another instance created the first administrator")
		return nil
	} else if err != nil {
		return fmt.Errorf("serve: first administrator: %w", err)
	}
	server.Audit(ctx, log, slog.LevelInfo, server.EventUserAdded, slog.String("user_id", u.ID),
		slog.String("username", u.Name), slog.String("role", string(u.Role)), slog.String("via", "serve (first administrator)"))
	if generated {
		fmt.Fprintf(env.Stderr, "\nvroauth: the database had no users; created Administrator %q with password:\n\n    %s\n\nIt is shown only now. Change it with: vroauth users set-password --username %s --password-stdin\n\n", u.Name, password, u.Name)
	}
	return nil
}

// outageGrace maps --outage-grace to server.Config.OutageGrace, where 0 means the
// default and a negative value turns the fallback off.
func outageGrace(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

func newLogger(env *Env, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(env.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(env.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}
