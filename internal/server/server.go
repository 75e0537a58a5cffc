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

	// Passwords sets the cost of the hash that unknown user names are checked against, so
	// that they take as long as a wrong password; default core.DefaultPasswordHasher.
	Passwords core.PasswordHasher

	Logger *slog.Logger // default slog.Default()
	Now    core.Clock   // default time.Now
}

// Server answers the vroauth API. Build it with New; it is safe for concurrent use.
type Server struct {
	store         core.Store
	secrets       *core.SecretHasher
	accessTTL     time.Duration
	refreshTTL    time.Duration
	singleSession bool
	log           *slog.Logger
	now           core.Clock

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
		log:           cfg.Logger,
		now:           cfg.Now,
		hashing:       make(chan struct{}, runtime.GOMAXPROCS(0)),
	}
	if cfg.Passwords == (core.PasswordHasher{}) {
		cfg.Passwords = core.DefaultPasswordHasher
	}
	s.dummyHash = cfg.Passwords.Hash(core.NewToken())
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.accessTTL < time.Second || s.refreshTTL < s.accessTTL {
		return nil, errors.New("server: the access token TTL must be at least 1s and at most the refresh token TTL")
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
