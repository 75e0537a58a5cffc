// Package server is the vroauth reference server: it implements
// gen.StrictServerInterface on top of a core.Store, and Handler builds the whole HTTP
// stack (routing, limits, bearer authentication, error bodies, documentation).
package server

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vroauth/vroauth/gen"
	"github.com/vroauth/vroauth/internal/core"
)

// Default lifetimes, as the Orchestrator has them.
const (
	DefaultAccessTTL  = 15 * time.Minute
	DefaultRefreshTTL = 120 * time.Minute
)

// Config is what a Server is built from. Store and Secrets are required.
type Config struct {
	Store   core.Store
	Secrets *core.SecretHasher // hashes client secrets under the server key

	AccessTTL     time.Duration // default DefaultAccessTTL
	RefreshTTL    time.Duration // default DefaultRefreshTTL
	SingleSession bool          // a new login ends the older sessions of the same credentials

	// ValidateRequests checks every request of an API operation against the contract
	// (api/openapi.yaml) before it is handled, and answers 400 to one that breaks it.
	ValidateRequests bool

	// AuthFailuresPerMinute and AuthFailureBurst limit failed password and client-secret
	// attempts (see ratelimit.go): per account and source address, a bucket of
	// AuthFailureBurst failures refilled at AuthFailuresPerMinute; per address and per
	// account, buckets 5 and 10 times larger. A refused attempt gets 429. Zero values
	// mean DefaultAuthFailuresPerMinute and DefaultAuthFailureBurst; a negative
	// AuthFailuresPerMinute turns the limits off.
	AuthFailuresPerMinute float64
	AuthFailureBurst      int

	// Passwords sets the cost of the hash that unknown user names are checked against, so
	// that they take as long as a wrong password; default core.DefaultPasswordHasher.
	Passwords core.PasswordHasher

	Logger *slog.Logger // default slog.Default()
	Now    core.Clock   // default time.Now

	// Registry receives the server's Prometheus metrics; default a new registry that
	// also holds the Go runtime and process collectors. Handler serves it at /metrics,
	// without authentication, unless NoMetricsEndpoint is set.
	Registry          *prometheus.Registry
	NoMetricsEndpoint bool
	// OutageGrace is how long after its last successful check an access token is still
	// accepted while the database is unavailable (see fallback.go); default
	// DefaultOutageGrace, negative to accept only what the database just confirmed.
	OutageGrace time.Duration
	// ProbeTimeout bounds the database check of /readyz and of the session gauge;
	// default DefaultProbeTimeout.
	ProbeTimeout time.Duration
}

// Server answers the vroauth API. Build it with New; it is safe for concurrent use.
type Server struct {
	store         core.Store
	secrets       *core.SecretHasher
	accessTTL     time.Duration
	refreshTTL    time.Duration
	singleSession bool
	validate      bool // Config.ValidateRequests
	log           *slog.Logger
	now           core.Clock

	// Operations: metrics, access log routes, readiness, the outage fallback.
	metrics      *metrics
	routes       *routeTable
	health       *health
	known        *lastKnown
	serveMetrics bool

	// limits counts failed authentications; nil when Config turned it off.
	limits *authLimiter
	// cache spares the bearer check and the client lookup a query (verifycache.go).
	cache *verifyCache

	// hashing bounds the argon2id computations running at once, and so the memory they
	// take (19 MiB each).
	hashing chan struct{}
	// dummyHash is verified against when a user does not exist, so that an unknown name
	// takes as long as a wrong password.
	dummyHash string
}

var _ gen.StrictServerInterface = (*Server)(nil)

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Secrets == nil {
		return nil, errors.New("server: Config.Store and Config.Secrets are required")
	}
	s := &Server{
		store:         cfg.Store,
		secrets:       cfg.Secrets,
		accessTTL:     cmp(cfg.AccessTTL, DefaultAccessTTL),
		refreshTTL:    cmp(cfg.RefreshTTL, DefaultRefreshTTL),
		singleSession: cfg.SingleSession,
		validate:      cfg.ValidateRequests,
		log:           cfg.Logger,
		now:           cfg.Now,
		hashing:       make(chan struct{}, runtime.GOMAXPROCS(0)),
	}
	if cfg.Passwords == (core.PasswordHasher{}) {
		cfg.Passwords = core.DefaultPasswordHasher
	}
	s.dummyHash = cfg.Passwords.Dummy() // computes no hash: 19 MiB less at start
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.limits = newAuthLimiter(cfg.AuthFailuresPerMinute, cfg.AuthFailureBurst, s.now)
	s.cache = newVerifyCache(s.store, s.now)
	if s.accessTTL < time.Second || s.refreshTTL < s.accessTTL {
		return nil, errors.New("server: the access token TTL must be at least 1s and at most the refresh token TTL")
	}
	if err := s.initOps(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

func cmp(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// verifyPassword checks password against hash with at most GOMAXPROCS hashes running.
func (s *Server) verifyPassword(ctx context.Context, password, hash string) (bool, error) {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.hashing }()
	return core.VerifyPassword(password, hash)
}
