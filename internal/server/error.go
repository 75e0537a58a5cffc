package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/vroauth/vroauth/gen"
)

// This file is the one funnel for errors: every error a caller sees is written here,
// in the spec's shape. Internal errors are logged and never shown.

// Realm is the realm named in every authentication challenge.
const Realm = "vroauth"

const (
	challengeBasic             = `Basic realm="` + Realm + `"`
	challengeInsufficientScope = `Bearer realm="` + Realm + `", error="insufficient_scope"`
	genericMessage             = "the server could not complete the request"
)

// apiError returns the spec's Error body.
func apiError(code gen.ErrorErrorCode, message, resourceID string) gen.Error {
	e := gen.Error{ErrorCode: code, Message: message}
	if resourceID != "" {
		e.ResourceId = &resourceID
	}
	return e
}

// forbidden returns the body and headers of a 403 (RFC 6750 §3.1 insufficient_scope).
func forbidden(message string) gen.ForbiddenJSONResponse {
	return gen.ForbiddenJSONResponse{
		Body:    apiError("Forbidden", message, ""),
		Headers: gen.ForbiddenResponseHeaders{WWWAuthenticate: challengeInsufficientScope},
	}
}

// oauthError is an RFC 6749 §5.2 error of the token and revocation endpoints.
type oauthError struct {
	code        gen.OAuthErrorError
	description string
	basic       bool // the client authenticated with HTTP Basic: invalid_client is a 401
	retryAfter  int  // too many failed attempts: a 429 with Retry-After in seconds

	// reason is set when the error refuses an authentication: the category recorded in
	// the audit log and the metrics (see audit.go); subject names the account, if known.
	reason  string
	subject []slog.Attr
}

func (e *oauthError) Error() string { return string(e.code) + ": " + e.description }

func invalidRequest(format string) *oauthError {
	return &oauthError{code: "invalid_request", description: format}
}

func invalidGrant(description string) *oauthError {
	return &oauthError{code: "invalid_grant", description: description}
}

func (e *oauthError) body() gen.OAuthError {
	d := e.description
	return gen.OAuthError{Error: e.code, ErrorDescription: &d}
}

// unauthorized reports whether e is answered with 401 (RFC 6749 §5.2: invalid_client
// after HTTP Basic authentication) rather than 400.
func (e *oauthError) unauthorized() bool {
	return e.code == "invalid_client" && e.basic
}

func (e *oauthError) tokenResponse() gen.IssueTokenResponseObject {
	if e.retryAfter > 0 {
		return gen.IssueToken429JSONResponse{TooManyFailedAttemptsJSONResponse: e.tooMany()}
	}
	if e.unauthorized() {
		return gen.IssueToken401JSONResponse{Body: e.body(), Headers: gen.IssueToken401ResponseHeaders{
			CacheControl: "no-store", Pragma: "no-cache", WWWAuthenticate: challengeBasic,
		}}
	}
	return gen.IssueToken400JSONResponse{Body: e.body(), Headers: gen.IssueToken400ResponseHeaders{
		CacheControl: "no-store", Pragma: "no-cache",
	}}
}

func (e *oauthError) revokeResponse() gen.RevokeTokenResponseObject {
	if e.retryAfter > 0 {
		return gen.RevokeToken429JSONResponse{TooManyFailedAttemptsJSONResponse: e.tooMany()}
	}
	if e.unauthorized() {
		return gen.RevokeToken401JSONResponse{Body: e.body(), Headers: gen.RevokeToken401ResponseHeaders{
			CacheControl: "no-store", Pragma: "no-cache", WWWAuthenticate: challengeBasic,
		}}
	}
	return gen.RevokeToken400JSONResponse{Body: e.body(), Headers: gen.RevokeToken400ResponseHeaders{
		CacheControl: "no-store", Pragma: "no-cache",
	}}
}

// tooMany is the 429 of an attempt the limiter of failed authentications refused.
func (e *oauthError) tooMany() gen.TooManyFailedAttemptsJSONResponse {
	return gen.TooManyFailedAttemptsJSONResponse{Body: e.body(), Headers: gen.TooManyFailedAttemptsResponseHeaders{
		CacheControl: "no-store", Pragma: "no-cache", RetryAfter: e.retryAfter,
	}}
}

// isOAuthPath reports whether r is answered with RFC 6749 error bodies.
func isOAuthPath(r *http.Request) bool {
	return r.URL.Path == "/api/token" || r.URL.Path == "/api/revoke"
}

// requestError answers a request the generated code could not decode (a malformed
// form, a missing or malformed parameter): 400 in the spec's shape, with a message that
// names the problem but never echoes the input.
func (s *Server) requestError(w http.ResponseWriter, r *http.Request, err error) {
	msg := describeRequestError(err)
	if isOAuthPath(r) {
		writeOAuthError(w, http.StatusBadRequest, invalidRequest(msg))
		return
	}
	resource := ""
	if r.URL.Path != "" && strings.HasSuffix(r.URL.Path, "/Clients") {
		resource = r.URL.Query().Get("clientId")
		if !guidLike(resource) {
			resource = "" // it may be anything pasted there, a token or a secret: never echo it
		}
	}
	writeJSON(w, http.StatusBadRequest, apiError("BadRequest", msg, resource))
}

// guidLike reports whether s is made of what a mistyped GUID is made of (hex digits,
// dashes, braces) and no longer than a GUID in braces: safe to echo in an error body.
func guidLike(s string) bool {
	if len(s) > 38 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == '-' || c == '{' || c == '}') {
			return false
		}
	}
	return true
}

func describeRequestError(err error) string {
	var (
		required *gen.RequiredParamError
		format   *gen.InvalidParamFormatError
		tooMany  *gen.TooManyValuesForParamError
		tooLarge *http.MaxBytesError
		contract *contractError
	)
	switch {
	case errors.As(err, &contract):
		return contract.message
	case errors.As(err, &tooLarge):
		return "the request body is too large"
	case errors.As(err, &required):
		return required.ParamName + " is required"
	case errors.As(err, &format) && format.ParamName == "clientId":
		return "clientId must be a GUID such as 0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11"
	case errors.As(err, &format):
		return format.ParamName + " is malformed"
	case errors.As(err, &tooMany):
		return tooMany.ParamName + " must be given once"
	default:
		return "the request is malformed"
	}
}

// responseError answers an unexpected failure: it is logged here and the caller sees
// only a generic 500.
func (s *Server) responseError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	if isOAuthPath(r) {
		writeOAuthError(w, status, &oauthError{code: "server_error", description: genericMessage})
		return
	}
	writeJSON(w, status, apiError("InternalError", genericMessage, ""))
}

func writeOAuthError(w http.ResponseWriter, status int, e *oauthError) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, e.body())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// notFound answers paths and methods the API does not have, in the spec's shape.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, apiError("NotFound", "no such endpoint", ""))
}

// methodNotAllowed answers a known path with a method it does not serve.
func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeJSON(w, http.StatusMethodNotAllowed, apiError("MethodNotAllowed", r.Method+" is not allowed here; use "+allow, ""))
	}
}
