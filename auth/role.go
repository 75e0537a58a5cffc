package auth

import (
	"net/http"
	"slices"
)

// RequireRole returns a middleware that admits only principals whose role is one of
// roles, and answers the others with 403 and an insufficient_scope challenge (RFC 6750
// §3.1). A request without a principal gets 401, as [Middleware] would answer it. Use
// it inside Middleware, whose realm and error function it shares. With no roles, every
// principal is refused.
func RequireRole(roles ...Role) func(http.Handler) http.Handler {
	roles = slices.Clone(roles)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := lookup(r.Context())
			m := defaultMiddleware
			if c != nil && c.m != nil {
				m = c.m
			}
			switch {
			case c == nil || c.p == nil:
				m.fail(w, r, m.unauthorized(m.plain, msgMissing, nil))
			case !slices.Contains(roles, c.p.Role):
				m.fail(w, r, &Error{Status: http.StatusForbidden, Code: "Forbidden",
					Message: msgForbidden, Challenge: m.forbidden})
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}
