package auth

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"
)

// defaultExpiryMargin is how long before its expiry a [Source] replaces a token.
const defaultExpiryMargin = 10 * time.Second

// ErrNoCredentials is returned by [Source.Token] when a new token is needed but the
// source has neither a usable refresh token nor credentials to sign in with: a CLI
// resuming a saved session must ask the user to sign in again.
var ErrNoCredentials = errors.New("auth: no usable refresh token and no credentials")

// errAborted is the outcome of a token request whose caller panicked.
var errAborted = errors.New("auth: token request aborted")

// Token is a session's tokens as the token endpoint issued them. The JSON form lets a
// program save a token (see [Config.OnToken]) and resume from it later
// (see [Config.TokenSource]). Tokens returned by a [Source] are shared: treat them as
// read-only.
type Token struct {
	AccessToken  string    `json:"access_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"` // "bearer"
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"` // when the access token expires; zero if unknown
	// RefreshExpiry is when the refresh token expires; zero if unknown.
	RefreshExpiry time.Time `json:"refresh_expiry,omitzero"`
}

// TokenSource supplies access tokens; [Source] is the implementation for the VRO token
// endpoint.
type TokenSource interface {
	// Token returns a token whose access token is valid, obtaining one if needed.
	// The token must not be modified afterwards: callers may keep and share it.
	Token(ctx context.Context) (*Token, error)
}

// Invalidator is implemented by token sources that can be told a token was rejected.
// [Transport] uses it to refresh a token once when a server answers 401.
type Invalidator interface {
	// Invalidate marks t's access token as rejected, so that the next Token call
	// obtains a new one; it does nothing if the source has already moved on from t.
	Invalidate(t *Token)
}

// Config describes how a [Source] obtains tokens from the token endpoint. Set the
// client account's credentials (client_credentials grant) or a user's (password grant),
// not both; with neither, the source can only refresh the token it was seeded with.
type Config struct {
	// TokenURL is the token endpoint: the server's address followed by "/api/token",
	// such as "https://vro.example.com:9898/api/token".
	TokenURL string

	ClientID     string // a client account's GUID
	ClientSecret string
	Username     string // DOMAIN\USERNAME or USERNAME
	Password     string

	// HTTPClient sends the token requests; nil means http.DefaultClient. It must not
	// use a Transport backed by the same source.
	HTTPClient *http.Client

	// ExpiryMargin is how long before expiry a token is replaced: 10 seconds if zero,
	// none if negative. The same margin applies to refresh tokens.
	ExpiryMargin time.Duration

	// RefreshTokenLifetime, if positive, is the server's refresh-token lifetime (VRO's
	// default is 120 minutes). The token endpoint does not tell it; knowing it lets the
	// source sign in again instead of trying a refresh token known to be expired.
	RefreshTokenLifetime time.Duration

	// OnToken, if set, is called with every newly obtained token before any caller
	// uses it, one call at a time and in order, for instance to save the rotated
	// refresh token. It must not call the source.
	OnToken func(*Token)

	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// TokenSource returns a [Source] that obtains tokens as c describes. saved, if not nil,
// seeds it, such as a token saved by [Config.OnToken] in an earlier run: its access
// token is used while valid, and its refresh token to obtain the next one. The source
// keeps a copy of c; c may be changed or discarded afterwards.
func (c *Config) TokenSource(saved *Token) *Source {
	s := &Source{cfg: *c}
	s.margin = c.ExpiryMargin
	if s.margin == 0 {
		s.margin = defaultExpiryMargin
	} else if s.margin < 0 {
		s.margin = 0
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	if s.cfg.HTTPClient == nil {
		s.cfg.HTTPClient = http.DefaultClient
	}
	if saved != nil {
		s.setToken(saved, s.cfg.Now())
	}
	return s
}

// Source is a [TokenSource] for the VRO token endpoint. It caches the current token,
// replaces it shortly before it expires (with the newest refresh token, or by signing
// in again when that is rejected or expired), and never has more than one token
// request in flight, however many goroutines wait for it. It holds no context: each
// token request carries the values of the context of the caller that needed it; a
// caller that gives up returns at once, while its request completes for the others
// (so a rotated refresh token is never lost). A Source is safe for concurrent use.
type Source struct {
	cfg    Config
	margin time.Duration

	mu       sync.Mutex
	tok      *Token    // the last token obtained or seeded; nil if none
	renewAt  time.Time // when tok is due for renewal
	rejected bool      // tok's access token was rejected by a server
	call     *call     // the token request in flight, if any
}

// call is a token request in flight; done is closed once tok and err are set.
type call struct {
	done      chan struct{}
	from      *Token // the token being replaced
	tok       *Token
	err       error
	abandoned bool // the request was aborted: waiters make their own
	panicked  any  // what OnToken panicked with, for the caller that led the request
	dropRT    bool // the server rejected from's refresh token
}

var (
	_ TokenSource = (*Source)(nil)
	_ Invalidator = (*Source)(nil)
)

// Token returns the current token if its access token is valid for longer than the
// expiry margin, and otherwise obtains a new one. While another caller's request is in
// flight it returns the current token if it has not expired yet, or waits for that
// request: if the other caller gives up, a waiter whose ctx is still alive makes a
// request of its own. Token returns ctx's error when ctx ends while it waits, a
// [*RetrieveError] when the token endpoint refuses, and [ErrNoCredentials] when a new
// token is needed but cannot be obtained.
func (s *Source) Token(ctx context.Context) (*Token, error) {
	for {
		now := s.cfg.Now() // outside the lock: a clock read can cost more than the rest
		s.mu.Lock()
		if s.valid(now, true) {
			t := s.tok
			s.mu.Unlock()
			return t, nil
		}
		c := s.call
		if c == nil {
			c = &call{done: make(chan struct{}), from: s.tok}
			s.call = c
			s.mu.Unlock()
			return s.lead(ctx, c)
		}
		if s.valid(now, false) {
			t := s.tok
			s.mu.Unlock()
			return t, nil
		}
		s.mu.Unlock()
		select {
		case <-c.done:
			if !c.abandoned {
				return c.tok, c.err
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Invalidate marks t's access token as rejected if it is still the current one, so
// that the next [Source.Token] call obtains a new token. Concurrent callers that saw
// the same rejected token thus cause a single token request.
func (s *Source) Invalidate(t *Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t != nil && s.tok != nil && s.tok.AccessToken == t.AccessToken {
		s.rejected = true
	}
}

// valid reports whether the current access token may be used at now; fresh also asks
// that it is not yet due for renewal.
func (s *Source) valid(now time.Time, fresh bool) bool {
	t := s.tok
	switch {
	case t == nil || s.rejected || t.AccessToken == "":
		return false
	case t.Expiry.IsZero():
		return true
	case fresh:
		return now.Before(s.renewAt)
	}
	return now.Before(t.Expiry)
}

// setToken makes t the current token. It is due for renewal the expiry margin before
// it expires, or halfway through its remaining life if that is sooner, so that a
// token that lives less than the margin is not renewed on every call.
func (s *Source) setToken(t *Token, now time.Time) {
	s.tok, s.rejected = t, false
	margin := min(s.margin, max(t.Expiry.Sub(now)/2, 0))
	s.renewAt = t.Expiry.Add(-margin)
}

// lead makes the token request of c for its caller and publishes the outcome. The
// request runs on a copy of ctx that keeps its values but not its cancellation, bounded
// by exchangeTimeout: if the caller gives up after the server has rotated the refresh
// token, the new one is still stored, instead of being lost with the response (which
// would make the next refresh present a spent token and end the session). The caller
// itself returns as soon as ctx ends.
func (s *Source) lead(ctx context.Context, c *call) (*Token, error) {
	go s.run(context.WithoutCancel(ctx), c)
	select {
	case <-c.done:
		if c.panicked != nil {
			panic(c.panicked) // OnToken's panic, passed on to the caller that ran it
		}
		return c.tok, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// exchangeTimeout bounds a token request that no caller waits for any more.
const exchangeTimeout = 30 * time.Second

func (s *Source) run(ctx context.Context, c *call) {
	ctx, cancel := context.WithTimeout(ctx, exchangeTimeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil { // a panic in OnToken: let the waiters retry
			c.panicked = v
			s.finish(c, nil, errAborted, true)
		}
	}()
	t, err := s.obtain(ctx, c)
	if err == nil && s.cfg.OnToken != nil {
		s.cfg.OnToken(t)
	}
	s.finish(c, t, err, false)
}

func (s *Source) finish(c *call, t *Token, err error, abandoned bool) {
	s.mu.Lock()
	switch {
	case err == nil:
		s.setToken(t, s.cfg.Now())
	case c.dropRT && s.tok == c.from: // never present a rejected refresh token again
		stale := *s.tok
		stale.RefreshToken, stale.RefreshExpiry = "", time.Time{}
		s.tok = &stale
	}
	c.tok, c.err, c.abandoned = t, err, abandoned
	s.call = nil
	s.mu.Unlock()
	close(c.done)
}

// obtain replaces c.from: with its refresh token while that is usable, and otherwise,
// or when the server rejects it, with the configured credentials.
func (s *Source) obtain(ctx context.Context, c *call) (*Token, error) {
	from := c.from
	if from != nil && from.RefreshToken != "" && !s.refreshExpired(from) {
		t, err := s.exchange(ctx, refreshForm(from.RefreshToken))
		if err == nil {
			if t.RefreshToken == "" { // not rotated: keep the one we have
				t.RefreshToken, t.RefreshExpiry = from.RefreshToken, from.RefreshExpiry
			}
			return t, nil
		}
		if !rejected(err) {
			return nil, err
		}
		c.dropRT = true
		if s.cfg.ClientID == "" && s.cfg.Username == "" {
			return nil, err
		}
	}
	form, err := s.credentialsForm()
	if err != nil {
		return nil, err
	}
	return s.exchange(ctx, form)
}

func (s *Source) refreshExpired(t *Token) bool {
	return !t.RefreshExpiry.IsZero() && !s.cfg.Now().Before(t.RefreshExpiry.Add(-s.margin))
}
