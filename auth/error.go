package auth

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Messages of the error bodies and challenges. They are fixed texts: nothing the caller
// sent and nothing a Verifier returned ever reaches a response.
const (
	msgMissing   = "a bearer access token is required"
	msgMalformed = "the Authorization header is not a valid bearer credential"
	msgInvalid   = "the access token is invalid or has expired"
	msgForbidden = "the caller's role does not allow this operation"
	msgInternal  = "the server could not complete the request"
)

// Error is a request that [Middleware] or [RequireRole] refuses: what the response says,
// and why. An error function set with [WithErrorFunc] receives it, typically to log Err
// before calling [WriteError].
type Error struct {
	// Status is the HTTP status: 401, 403 or 500.
	Status int
	// Code is the errorCode of the spec's Error body: "Unauthorized", "Forbidden" or
	// "InternalError".
	Code string
	// Message is the body's message, a fixed text that is safe to show to the caller.
	Message string
	// Challenge is the WWW-Authenticate value, empty for a 500.
	Challenge string
	// Err is the cause when there is one, such as the Verifier's error. It is meant for
	// server logs and never shown to the caller.
	Err error
}

// Error describes e for a log line; it includes the cause, so never send it to a caller.
func (e *Error) Error() string {
	s := "auth: " + http.StatusText(e.Status) + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause, so that errors.Is(e, [ErrInvalidToken]) works.
func (e *Error) Unwrap() error { return e.Err }

// errorBody is the spec's Error schema, without the optional resourceId.
type errorBody struct {
	ErrorCode string `json:"errorCode"`
	Message   string `json:"message"`
}

// WriteError writes e as the spec's JSON Error body with e's status, and e's challenge
// in WWW-Authenticate when there is one. It is the default error function of
// [Middleware]; it never writes e.Err.
func WriteError(w http.ResponseWriter, r *http.Request, e *Error) {
	h := w.Header()
	if e.Challenge != "" {
		h.Set("WWW-Authenticate", e.Challenge)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	b, _ := json.Marshal(errorBody{ErrorCode: e.Code, Message: e.Message})
	_, _ = w.Write(append(b, '\n'))
}

// challenge returns a Bearer challenge (RFC 6750 §3) for realm with the given error
// code and description; empty ones are left out.
func challenge(realm, code, description string) string {
	s := `Bearer realm=` + quote(realm)
	if code != "" {
		s += `, error=` + quote(code)
	}
	if description != "" {
		s += `, error_description=` + quote(description)
	}
	return s
}

// quote returns s as an HTTP quoted-string (RFC 9110 §5.6.4). It panics on control
// characters, which no quoted-string may carry; realms are set by programs, not users.
func quote(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			panic("auth: control character in a challenge parameter")
		}
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
