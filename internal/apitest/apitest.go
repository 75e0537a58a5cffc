// Package apitest checks HTTP traffic against the vroauth contract, api/openapi.yaml, in
// tests. Its Transport is an http.RoundTripper that validates every request and every
// response of an operation the contract declares, with kin-openapi's openapi3filter, and
// reports each violation through testing.TB.Errorf, naming the operation, the method and
// path, the status and the rule that was broken.
//
// What is checked:
//
//   - Every response: its status must be declared for the operation (an undeclared status
//     fails), its declared headers must be present and match their schemas, and its body
//     must have a declared content type and match its schema.
//   - Every request: parameters, body (application/x-www-form-urlencoded with
//     openapi3filter's decoder, multipart/form-data with contract.FormDecoder; no body
//     goes unchecked) and the presence of the credentials the operation's security asks
//     for (whether a token is valid is the server's business, not the contract's).
//
// Tests send malformed requests on purpose, so a request that breaks the contract is not
// a failure in itself: it is one when the server accepts it (answers anything but a 4xx),
// because then the server and the contract disagree about what is valid. A test can also
// opt a request out of request validation with SkipRequestValidation.
//
// Requests to paths or methods the contract does not declare (health checks, the
// documentation, a 405 for an unknown method) are passed through unchecked: there is no
// operation to check them against.
package apitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/vroauth/vroauth/internal/contract"
)

// BearerPresent is an openapi3filter.AuthenticationFunc that checks only what a contract
// can check: that the credentials a security scheme names were sent. An HTTP bearer
// scheme needs an "Authorization: Bearer <token>" header; the OAuth2 schemes, which
// describe how a token is obtained, need the same.
func BearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(token) == "" {
		return errors.New("no bearer token was sent")
	}
	return nil
}

type skipRequestKey struct{}

// SkipRequestValidation returns a context that marks a request as deliberately outside
// the contract: the Transport checks its response only.
func SkipRequestValidation(ctx context.Context) context.Context {
	return context.WithValue(ctx, skipRequestKey{}, true)
}

// Option configures a Transport.
type Option func(*Transport)

// WithRoutePath rewrites a request's path before the operation is looked up, for a
// server that answers an operation under more paths than the contract lists (the
// Orchestrator's older API versions, for example).
func WithRoutePath(rewrite func(path string) string) Option {
	return func(t *Transport) { t.routePath = rewrite }
}

// VersionAliases is a WithRoutePath rewrite that checks /api/<version>/Clients as
// /api/v7.1/Clients: the contract describes v7.1, and a VRO release answers the same
// Clients operations under its own version and the two before it.
func VersionAliases(path string) string {
	if versionedClients.MatchString(path) {
		return "/api/v7.1/Clients"
	}
	return path
}

var versionedClients = regexp.MustCompile(`^/api/v[0-9]+(\.[0-9]+)*/Clients$`)

// Transport validates each round trip against the contract and reports violations to
// its testing.TB. Build it with New; it is safe for concurrent use.
type Transport struct {
	tb        testing.TB
	base      http.RoundTripper
	contract  *contract.Contract
	routePath func(string) string
}

// New returns a Transport that sends requests with base (http.DefaultTransport when
// nil) and reports to tb. It fails tb at once if the contract does not load.
func New(tb testing.TB, base http.RoundTripper, opts ...Option) *Transport {
	tb.Helper()
	c, err := contract.Load()
	if err != nil {
		tb.Fatal(err)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	t := &Transport{tb: tb, base: base, contract: c}
	for _, o := range opts {
		o(t)
	}
	return t
}

// Client returns an *http.Client that sends through a new validating Transport.
func Client(tb testing.TB, base http.RoundTripper, opts ...Option) *http.Client {
	tb.Helper()
	return &http.Client{Transport: New(tb, base, opts...)}
}

func (t *Transport) options() *openapi3filter.Options {
	return &openapi3filter.Options{
		IncludeResponseStatus:   true,
		MultiError:              true,
		AuthenticationFunc:      BearerPresent,
		SkipSettingDefaults:     true, // check what was sent, never rewrite it
		SchemaValidationOptions: contract.SchemaOptions(),
	}
}

// RoundTrip sends req, then checks the request and the response against the operation
// the contract declares for them.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("apitest: read the request body: %w", err)
		}
	}
	send := withBody(req, body)

	// The lookup uses a copy whose path may be rewritten; the request sent is untouched.
	check := withBody(req, body)
	if t.routePath != nil {
		u := *req.URL
		u.Path, u.RawPath = t.routePath(u.Path), ""
		check.URL = &u
	}
	route, pathParams, err := t.contract.Router.FindRoute(check)
	if err != nil { // not an operation of the contract: nothing to check it against
		return t.base.RoundTrip(send)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: check, PathParams: pathParams, Route: route, Options: t.options(),
	}
	var reqErr error
	if skip, _ := req.Context().Value(skipRequestKey{}).(bool); !skip {
		reqErr = openapi3filter.ValidateRequest(req.Context(), in)
	}

	resp, err := t.base.RoundTrip(send)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("apitest: read the response body: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))

	where := fmt.Sprintf("%s (%s %s) answered %d", route.Operation.OperationID, req.Method, req.URL.Path, resp.StatusCode)
	if reqErr != nil && (resp.StatusCode < 400 || resp.StatusCode > 499) {
		for _, v := range violations(reqErr) {
			t.tb.Errorf("apitest: %s to a request that breaks the contract: request %s", where, v)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(data)),
		Options:                t.options(),
	}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		for _, v := range violations(err) {
			t.tb.Errorf("apitest: %s; the response breaks the contract: %s", where, v)
		}
	}
	return resp, nil
}

// withBody returns a shallow copy of req that reads body.
func withBody(req *http.Request, body []byte) *http.Request {
	r := req.Clone(req.Context())
	if body == nil {
		r.Body = http.NoBody
		return r
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	return r
}

// violations flattens an error of openapi3filter into one line per broken rule, each
// naming where (a parameter, the body, a header, a JSON pointer), the schema keyword
// and the reason. The values that broke a schema are left out: they may be secrets.
func violations(err error) []string {
	var out []string
	flatten(err, "", &out)
	sort.Strings(out)
	return out
}

func flatten(err error, prefix string, out *[]string) {
	switch e := err.(type) {
	case openapi3.MultiError:
		for _, x := range e {
			flatten(x, prefix, out)
		}
	case *openapi3filter.RequestError:
		where := prefix
		switch {
		case e.Parameter != nil:
			where += fmt.Sprintf("%s parameter %q: ", e.Parameter.In, e.Parameter.Name)
		case e.RequestBody != nil:
			where += "body: "
		}
		if e.Err == nil {
			*out = append(*out, where+e.Reason)
			return
		}
		if e.Reason != "" && e.Reason != e.Err.Error() {
			where += e.Reason + ": "
		}
		flatten(e.Err, where, out)
	case *openapi3filter.ResponseError:
		if e.Err == nil {
			*out = append(*out, prefix+e.Reason)
			return
		}
		flatten(e.Err, prefix+e.Reason+": ", out)
	case *openapi3filter.SecurityRequirementsError:
		*out = append(*out, prefix+"security: no security requirement of the operation is met")
	case *openapi3.SchemaError:
		ptr := "/" + strings.Join(e.JSONPointer(), "/")
		*out = append(*out, fmt.Sprintf("%sat %s: %s (schema keyword %q)", prefix, ptr, e.Reason, e.SchemaField))
	case *openapi3filter.ParseError: // its Value is left out
		if p := e.Path(); len(p) > 0 {
			prefix += fmt.Sprintf("at %v: ", p)
		}
		var cause error = e
		for {
			pe, ok := cause.(*openapi3filter.ParseError)
			if !ok {
				break
			}
			if pe.Reason != "" {
				prefix += pe.Reason + ": "
			}
			cause = pe.Cause
		}
		if cause == nil {
			*out = append(*out, strings.TrimSuffix(prefix, ": "))
			return
		}
		flatten(cause, prefix, out)
	default:
		*out = append(*out, prefix+err.Error())
	}
}
