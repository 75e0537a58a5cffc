// Package auth is the hand-written half of the vroauth contract: bearer-token
// authentication for servers and token-refreshing HTTP transport for clients of the
// Veeam Recovery Orchestrator (VRO) REST API. It is meant to be imported next to the
// generated package [github.com/vroauth/vroauth/gen], and depends only on the standard
// library.
//
// # Servers
//
// [Middleware] reads an RFC 6750 bearer token from the Authorization header, asks a
// [Verifier] who it belongs to, and stores the resulting [Principal] in the request's
// context, where handlers read it with [FromContext]. Failures are answered as RFC 6750
// §3 describes, with the spec's JSON error body:
//
//   - no credentials (or another scheme): 401, WWW-Authenticate: Bearer realm="vroauth";
//   - a malformed header or a token the Verifier rejects with [ErrInvalidToken]: 401 with
//     error="invalid_token";
//   - a valid principal whose role [RequireRole] does not list: 403 with
//     error="insufficient_scope";
//   - any other Verifier error: 500, without the error's text.
//
// Middleware of the shape func(http.Handler) http.Handler compose from the inside out:
// in Middleware(v)(RequireRole(r)(h)), Middleware runs first. Note that chi's Chain
// makes the first middleware listed the outermost, while oapi-codegen's middleware
// slices make the last listed the outermost; [RequireRole] must always run inside
// [Middleware].
//
// # Clients
//
// [Config.TokenSource] returns a [Source] that obtains tokens from POST /api/token with
// the client_credentials or password grant, caches them, refreshes them a little before
// they expire (keeping the newest, rotated refresh token), and lets exactly one token
// request run at a time. [Transport] is an [http.RoundTripper] that adds the token to
// every request and, when a server rejects it, refreshes it once and retries. Plug it
// into the generated client with gen.WithHTTPClient(&http.Client{Transport: ...}).
package auth

import (
	"context"
	"fmt"
)

// Kind says whether a [Principal] is a user or a client account.
type Kind string

// The kinds of principal.
const (
	KindUser   Kind = "user"   // a user, authenticated with the password grant
	KindClient Kind = "client" // a client account, authenticated with client_credentials
)

// Role is a VRO user role. A client account has its owner's role.
type Role string

// The roles that may authenticate.
const (
	RoleAdministrator Role = "Administrator" // manages the Orchestrator
	RolePlanAuthor    Role = "PlanAuthor"    // writes recovery plans
	RolePlanOperator  Role = "PlanOperator"  // runs recovery plans
)

// Principal is the caller a bearer token belongs to, as a [Verifier] found it.
// Values reached through [FromContext] are shared: treat them as read-only.
type Principal struct {
	Kind      Kind   // a user or a client account
	ID        string // the user's ID, or the client's GUID (lower-case)
	UserID    string // the owning user's ID (equals ID for a user)
	Username  string // the owning user's name, e.g. CORP\jsmith
	Role      Role   // the owning user's role, live
	SessionID string // the session the token belongs to
}

// principalKey is the context key of a [principalContext]; being unexported, no other
// package can collide with it.
type principalKey struct{}

// principalContext carries the request's principal and the middleware that admitted
// it. One small allocation holds both, where context.WithValue would need one per value.
type principalContext struct {
	context.Context
	p *Principal
	m *middleware // nil when built by NewContext
}

// Value answers principalKey with the context itself and delegates every other key.
func (c *principalContext) Value(key any) any {
	if key == (any)(principalKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// String describes the context for debugging, never revealing the principal.
func (c *principalContext) String() string {
	return fmt.Sprint(c.Context) + ".WithValue(auth.Principal)"
}

// lookup returns the innermost principalContext of ctx, or nil.
func lookup(ctx context.Context) *principalContext {
	c, _ := ctx.Value(principalKey{}).(*principalContext)
	return c
}

// NewContext returns a copy of ctx that carries p. [Middleware] stores the principal of
// every authenticated request the same way; tests and internal calls use NewContext.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return &principalContext{Context: ctx, p: p}
}

// FromContext returns the principal that ctx carries, and whether there is one.
func FromContext(ctx context.Context) (*Principal, bool) {
	if c := lookup(ctx); c != nil && c.p != nil {
		return c.p, true
	}
	return nil, false
}
