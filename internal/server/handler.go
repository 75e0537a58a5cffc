package server

import (
	"net/http"
	"strings"

	"github.com/vroauth/vroauth/auth"
	"github.com/vroauth/vroauth/gen"
)

// MaxBodyBytes bounds every request body; the API's largest is a token form.
const MaxBodyBytes = 64 << 10

// Handler returns the whole HTTP stack: the generated routes behind the bearer
// middleware, the documentation and health routes beside them, and the limits, logging
// and panic recovery around everything. It is the one place that decides which routes
// are public: those the spec marks `security: []`.
func (s *Server) Handler() http.Handler {
	strict := gen.NewStrictHandlerWithOptions(s, []gen.StrictMiddlewareFunc{captureOAuthCall},
		gen.StrictHTTPServerOptions{RequestErrorHandlerFunc: s.requestError, ResponseErrorHandlerFunc: s.responseError})
	api := http.NewServeMux()
	gen.HandlerWithOptions(strict, gen.StdHTTPServerOptions{BaseRouter: api, ErrorHandlerFunc: s.requestError})
	for path, allow := range apiMethods() {
		api.HandleFunc(path, methodNotAllowed(allow))
	}
	api.HandleFunc("/", notFound)
	public := publicOperations()
	guarded := auth.Middleware(s,
		auth.WithRealm(Realm),
		auth.WithPublic(func(r *http.Request) bool { return public[r.Method+" "+r.URL.Path] }),
		auth.WithErrorFunc(s.authError),
	)(notePrincipal(s.validateRequests(api)))

	root := http.NewServeMux()
	root.Handle("/api/", versionAlias(guarded))
	s.mountDocs(root)
	s.mountOps(root)
	root.HandleFunc("/", notFound)
	return s.logRequests(s.recoverPanics(limitBody(root)))
}

// authError logs the cause of a refused request when it is a server failure, then
// answers as the auth package does.
func (s *Server) authError(w http.ResponseWriter, r *http.Request, e *auth.Error) {
	s.countBearerFailure(e)
	if e.Status >= 500 {
		s.log.ErrorContext(r.Context(), "token verification failed", "err", e.Err)
	}
	auth.WriteError(w, r, e)
}

// clientsVersions are the API versions whose Clients operations are the same as
// v7.1's: a VRO release serves its own version and the ones before it.
var clientsVersions = []string{"v6", "v7", "v7.2", "v7.21"}

// versionAlias serves /api/<version>/Clients for every version in clientsVersions as
// /api/v7.1/Clients.
func versionAlias(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/api/")
		if version, tail, found := strings.Cut(rest, "/"); ok && found && tail == "Clients" {
			for _, v := range clientsVersions {
				if version == v {
					r2 := *r
					u := *r.URL
					u.Path, u.RawPath = "/api/v7.1/Clients", ""
					r2.URL = &u
					r = &r2
					break
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody bounds every request body to MaxBodyBytes.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			s := apiError("BadRequest", "the request body is too large", "")
			if isOAuthPath(r) {
				writeOAuthError(w, http.StatusBadRequest, invalidRequest(s.Message))
			} else {
				writeJSON(w, http.StatusBadRequest, s)
			}
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic in a handler into a logged 500 in the spec's shape.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				s.log.ErrorContext(r.Context(), "panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeJSON(w, http.StatusInternalServerError, apiError("InternalError", genericMessage, ""))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
