package core

import (
	"errors"
	"fmt"
)

// Error codes shared by every layer. The server maps each to one HTTP answer.
const (
	ECONFLICT     = "conflict"     // the resource exists already
	EINTERNAL     = "internal"     // an unexpected failure
	EINVALID      = "invalid"      // the input is malformed
	ENOTFOUND     = "not_found"    // no such resource, or not visible to the caller
	EFORBIDDEN    = "forbidden"    // the caller may not do this
	EUNAUTHORIZED = "unauthorized" // bad credentials
	EREUSED       = "reused"       // a refresh token was presented a second time
	EUNAVAILABLE  = "unavailable"  // the database cannot be reached
)

// Error is a domain error: a code for programs and a message for people. The message
// never contains a secret, a token or a password.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("core: %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any
// other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the message of the first *Error in err's chain, or a generic
// text for any other error, so that internal details never reach a caller.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "the server could not complete the request"
	}
}
