package server

import (
	"errors"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/vroauth/vroauth/internal/contract"
)

// validateRequests checks every request of an operation of the contract against
// api/openapi.yaml before the handlers see it, when Config.ValidateRequests is set;
// otherwise it returns next unchanged. A request that breaks the contract is answered
// 400 in the spec's shape, through requestError, with a message written here: never
// kin-openapi's text, which can quote the offending value (a password, a secret).
//
// It is written on openapi3filter and the legacy router directly rather than through
// oapi-codegen/nethttp-middleware: that middleware would bring its own error writer and
// status choices to replace, and a security check to switch off, for no gain. The
// filter runs without security validation (authentication is auth.Middleware's job, and
// runs first: a request without credentials gets 401, not a validation error), without
// setting defaults (the handlers see the request as sent), and returns the first
// violation only. Requests the contract does not describe (unknown paths and methods)
// pass through to the router, which answers 404 or 405.
func (s *Server) validateRequests(next http.Handler) http.Handler {
	if !s.validate {
		return next
	}
	c, err := contract.Load()
	if err != nil {
		panic("server: the embedded contract does not load: " + err.Error()) // a build defect
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
		SkipSettingDefaults:     true,
		SchemaValidationOptions: contract.SchemaOptions(),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, pathParams, err := c.Router.FindRoute(r)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: pathParams, Route: route, Options: opts}
		if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
			s.requestError(w, r, &contractError{message: contractMessage(err)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// contractError is a request that breaks the contract; message is safe to show.
type contractError struct{ message string }

func (e *contractError) Error() string { return "contract: " + e.message }

// fieldName is what a field name must look like to be named in a message.
var fieldName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// contractMessage describes a validation error of openapi3filter in our own words,
// naming at most a parameter or field the contract declares, never a value.
func contractMessage(err error) string {
	var (
		reqErr   *openapi3filter.RequestError
		schema   *openapi3.SchemaError
		tooLarge *http.MaxBytesError
	)
	if !errors.As(err, &reqErr) {
		return "the request does not match the API contract"
	}
	switch {
	case reqErr.Parameter != nil:
		p := reqErr.Parameter
		switch {
		case errors.Is(err, openapi3filter.ErrInvalidRequired):
			return p.Name + " is required"
		case errors.Is(err, openapi3filter.ErrInvalidEmptyValue):
			return p.Name + " must not be empty"
		case p.Schema != nil && p.Schema.Value != nil && p.Schema.Value.Format == "uuid":
			return p.Name + " must be a GUID such as 0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11"
		}
		return p.Name + " is malformed"
	case reqErr.RequestBody != nil:
		switch {
		case errors.As(err, &tooLarge):
			return "the request body is too large"
		case errors.Is(err, openapi3filter.ErrInvalidRequired):
			return "the request body is required"
		case strings.HasPrefix(reqErr.Reason, "header Content-Type"):
			var types []string
			for t := range reqErr.RequestBody.Content {
				types = append(types, t)
			}
			sort.Strings(types)
			return "the request body must be " + strings.Join(types, " or ")
		case errors.As(err, &schema):
			field := strings.Join(schema.JSONPointer(), ".")
			switch {
			case !fieldName.MatchString(field):
				return "the request body does not match the API contract"
			case schema.SchemaField == "required":
				return "the parameter " + field + " is required"
			}
			return "the parameter " + field + " is malformed"
		}
		return "the request body is malformed"
	}
	return "the request does not match the API contract"
}
