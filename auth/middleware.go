package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// ErrInvalidToken is what a [Verifier] returns, possibly wrapped, for an unknown,
// expired or revoked token. Any other error is a server failure.
var ErrInvalidToken = errors.New("auth: invalid token")

// errNoPrincipal is the cause reported when a Verifier returns neither a principal nor
// an error: a bug in the Verifier, answered as a server failure.
var errNoPrincipal = errors.New("auth: verifier returned no principal and no error")

// maxTokenLen bounds the bearer tokens [Middleware] passes to its [Verifier]. VRO
// tokens are opaque strings far shorter than this.
const maxTokenLen = 4096

// Verifier finds the principal an access token belongs to.
type Verifier interface {
	// Verify returns the token's principal, or an error that wraps ErrInvalidToken
	// when the token is unknown, expired or revoked. The token is syntactically valid
	// (RFC 6750 b64token) and never empty. The principal must not be modified later.
	Verify(ctx context.Context, token string) (*Principal, error)
}

// VerifierFunc adapts a function to the [Verifier] interface.
type VerifierFunc func(ctx context.Context, token string) (*Principal, error)

// Verify calls f(ctx, token).
func (f VerifierFunc) Verify(ctx context.Context, token string) (*Principal, error) {
	return f(ctx, token)
}

// Option configures [Middleware].
type Option func(*middleware)

// WithRealm sets the realm of the WWW-Authenticate challenges; the default is "vroauth".
// A realm containing control characters makes Middleware panic.
func WithRealm(realm string) Option {
	return func(m *middleware) { m.realm = realm }
}

// WithPublic makes Middleware pass the requests for which public returns true to the
// next handler without looking at their Authorization header, such as POST /api/token
// or a health check. Such requests carry no principal.
func WithPublic(public func(*http.Request) bool) Option {
	return func(m *middleware) { m.public = public }
}

// WithErrorFunc sets the function that answers refused requests, for Middleware and
// for the [RequireRole] handlers inside it. When f is called, the WWW-Authenticate
// challenge is already set; f writes the status and the body, typically by logging
// e.Err and calling [WriteError], the default.
func WithErrorFunc(f func(w http.ResponseWriter, r *http.Request, e *Error)) Option {
	return func(m *middleware) { m.onError = f }
}

// middleware is the configuration shared by Middleware and the RequireRole handlers
// it admits requests to.
type middleware struct {
	v       Verifier
	realm   string
	public  func(*http.Request) bool
	onError func(http.ResponseWriter, *http.Request, *Error)

	// The challenges, built once.
	plain, malformed, invalid, forbidden string
}

// defaultMiddleware answers for RequireRole when no Middleware admitted the request.
var defaultMiddleware = newMiddleware(nil, nil)

func newMiddleware(v Verifier, opts []Option) *middleware {
	m := &middleware{v: v, realm: "vroauth", onError: WriteError}
	for _, opt := range opts {
		opt(m)
	}
	m.plain = challenge(m.realm, "", "")
	m.malformed = challenge(m.realm, "invalid_token", "the Authorization header is malformed")
	m.invalid = challenge(m.realm, "invalid_token", msgInvalid)
	m.forbidden = challenge(m.realm, "insufficient_scope", "")
	return m
}

// Middleware returns a middleware that admits only requests carrying a bearer token
// that v accepts (RFC 6750), and stores the token's [Principal] in the request's
// context for [FromContext]. Tokens are read only from the Authorization header, never
// from the query or a form; the scheme name is case-insensitive. See the package
// documentation for the answers to refused requests. Middleware panics if v is nil.
func Middleware(v Verifier, opts ...Option) func(http.Handler) http.Handler {
	if v == nil {
		panic("auth: Middleware with a nil Verifier")
	}
	m := newMiddleware(v, opts)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.serve(w, r, next)
		})
	}
}

func (m *middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	ctx := r.Context()
	if m.public != nil && m.public(r) {
		next.ServeHTTP(w, r.WithContext(&principalContext{Context: ctx, m: m}))
		return
	}
	token, e := m.bearer(r.Header["Authorization"])
	if e != nil {
		m.fail(w, r, e)
		return
	}
	p, err := m.v.Verify(ctx, token)
	if err != nil || p == nil {
		m.fail(w, r, m.verifyError(err))
		return
	}
	next.ServeHTTP(w, r.WithContext(&principalContext{Context: ctx, p: p, m: m}))
}

// bearer returns the token of the Authorization header's values, or why there is none.
func (m *middleware) bearer(values []string) (string, *Error) {
	switch {
	case len(values) == 0 || (len(values) == 1 && values[0] == ""):
		return "", m.unauthorized(m.plain, msgMissing, nil)
	case len(values) > 1:
		return "", m.unauthorized(m.malformed, msgMalformed, nil)
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		if isToken(scheme) { // another scheme: no bearer credentials at all
			return "", m.unauthorized(m.plain, msgMissing, nil)
		}
		return "", m.unauthorized(m.malformed, msgMalformed, nil)
	}
	token = strings.TrimLeft(token, " ")
	if !isB64Token(token) {
		return "", m.unauthorized(m.malformed, msgMalformed, nil)
	}
	return token, nil
}

func (m *middleware) verifyError(err error) *Error {
	if errors.Is(err, ErrInvalidToken) {
		return m.unauthorized(m.invalid, msgInvalid, err)
	}
	if err == nil {
		err = errNoPrincipal
	}
	return &Error{Status: http.StatusInternalServerError, Code: "InternalError",
		Message: msgInternal, Err: err}
}

func (m *middleware) unauthorized(challenge, message string, err error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "Unauthorized",
		Message: message, Challenge: challenge, Err: err}
}

// fail sets e's challenge and hands e to the error function.
func (m *middleware) fail(w http.ResponseWriter, r *http.Request, e *Error) {
	if e.Challenge != "" {
		w.Header().Set("WWW-Authenticate", e.Challenge)
	}
	m.onError(w, r, e)
}

// isB64Token reports whether s matches RFC 6750's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=", within maxTokenLen.
func isB64Token(s string) bool {
	if len(s) > maxTokenLen {
		return false
	}
	i := 0
	for i < len(s) && isB64Char(s[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

func isB64Char(c byte) bool {
	return b64Chars[c]
}

// b64Chars marks the characters of RFC 6750's b64token but "=": a table is faster than
// the comparisons over every character of every request's token.
var b64Chars = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// isToken reports whether s is a non-empty RFC 9110 token, such as a scheme name.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}

func isTokenChar(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
