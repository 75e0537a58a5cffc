package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/vroauth/vroauth/internal/contract"
	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/server"
)

// The fuzz targets drive the real handler in process with what a caller controls: the
// token form (any content type, any body), HTTP Basic credentials, the clientId query
// parameter, and the bearer Authorization header. Whatever the input, the answer must
// be no panic and no 5xx, a status the contract declares for the operation, and a body
// that matches it: an RFC 6749 error on /api/token and /api/revoke, {errorCode,
// message} elsewhere. Each input is sent to two servers: the default one and one that
// validates requests against the contract (--validate-requests).
//
// Seed corpora live in testdata/fuzz/<FuzzName>/ and run with every `go test`; they
// name the fixtures below, so that the fuzzer starts from inputs that authenticate.
// Run one target for longer with, for example:
//
//	go test -run='^$' -fuzz=FuzzTokenForm -fuzztime=10m ./internal/server/

// Fixtures every fuzz server holds.
const (
	fuzzUser     = `CORP\fuzz`
	fuzzPassword = "fuzz-password"
	fuzzClientID = "0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11"
	fuzzSecret   = "fuzz-client-secret-0123456789abcdef"
	fuzzAccess   = "fuzz-access-token-0123456789abcdefghijklmno"
	fuzzRefresh  = "fuzz-refresh-token-0123456789abcdefghijklmn"
)

// fuzzTarget is a server prepared for fuzzing.
type fuzzTarget struct {
	name string
	h    http.Handler
}

// fuzzTargets returns the two servers every input is sent to, each with the fixtures.
func fuzzTargets(f *testing.F) []fuzzTarget {
	f.Helper()
	var targets []fuzzTarget
	for _, validate := range []bool{false, true} {
		env := MustServe(f, Options{ValidateRequests: validate, Configure: func(c *server.Config) {
			c.AuthFailuresPerMinute = -1             // every input reaches the credential checks
			c.Logger = slog.New(slog.DiscardHandler) // a fuzz run would fill memory with logs
		}})
		mustFixtures(f, env)
		name := "default"
		if validate {
			name = "validating"
		}
		targets = append(targets, fuzzTarget{name: name, h: env.HTTP.Config.Handler})
	}
	if _, err := contract.Load(); err != nil {
		f.Fatal(err)
	}
	return targets
}

func mustFixtures(tb testing.TB, env *Env) {
	tb.Helper()
	ctx := context.Background()
	u := env.MustUser(fuzzUser, fuzzPassword, core.RoleAdministrator)
	if err := env.Store.CreateClient(ctx, &core.Client{ID: fuzzClientID, UserID: u.ID, SecretHash: env.Secrets.Hash(fuzzSecret)}); err != nil {
		tb.Fatal(err)
	}
	now := env.Clock.Now()
	id := core.NewID()
	s := &core.Session{
		ID: id, FamilyID: id, UserID: u.ID,
		AccessHash: core.HashToken(fuzzAccess), RefreshHash: core.HashToken(fuzzRefresh),
		AccessExpiresAt: now.Add(24 * time.Hour), RefreshExpiresAt: now.Add(24 * time.Hour), CreatedAt: now,
	}
	if err := env.Store.CreateSession(ctx, s, false); err != nil {
		tb.Fatal(err)
	}
}

// checkAnswer serves req with h and fails t unless the answer keeps the contract.
func checkAnswer(t *testing.T, target fuzzTarget, req *http.Request) *http.Response {
	t.Helper()
	route, params, err := mustContract(t).Router.FindRoute(req)
	if err != nil {
		t.Fatalf("no operation for %s %s: %v", req.Method, req.URL.Path, err)
	}
	rec := httptest.NewRecorder()
	target.h.ServeHTTP(rec, req)
	resp := rec.Result()
	body := rec.Body.Bytes()
	op := route.Operation.OperationID
	if resp.StatusCode >= 500 {
		t.Fatalf("%s server: %s answered %d: %s", target.name, op, resp.StatusCode, body)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, SchemaValidationOptions: contract.SchemaOptions()}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("%s server: %s answered %d, which breaks the contract: %v\nbody: %s", target.name, op, resp.StatusCode, err, body)
	}
	if resp.StatusCode >= 400 {
		checkErrorBody(t, target, op, req.URL.Path, resp, body)
	}
	return resp
}

// checkErrorBody checks the shape of an error answer beyond what the schema says: JSON,
// the right one of the two error bodies, and its required fields not empty.
func checkErrorBody(t *testing.T, target fuzzTarget, op, path string, resp *http.Response, body []byte) {
	t.Helper()
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		t.Fatalf("%s server: %s %d Content-Type = %q; want application/json", target.name, op, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("%s server: %s %d body is not a JSON object: %v: %s", target.name, op, resp.StatusCode, err, body)
	}
	fields := []string{"errorCode", "message"}
	if path == "/api/token" || path == "/api/revoke" {
		fields = []string{"error", "error_description"}
	}
	for _, f := range fields {
		if s, _ := e[f].(string); s == "" {
			t.Fatalf("%s server: %s %d body lacks %s: %s", target.name, op, resp.StatusCode, f, body)
		}
	}
}

func mustContract(t *testing.T) *contract.Contract {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newRequest builds a request as the server would receive it, without parsing a URL
// (a fuzzed query need not parse).
func newRequest(method, path, rawQuery string, body []byte) *http.Request {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.URL.RawQuery = rawQuery
	req.RequestURI = req.URL.RequestURI()
	return req
}

// FuzzTokenForm sends any body with any content type to the token endpoint.
func FuzzTokenForm(f *testing.F) {
	targets := fuzzTargets(f)
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		for _, target := range targets {
			req := newRequest("POST", "/api/token", "", body)
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			checkAnswer(t, target, req)
		}
	})
}

// FuzzBasicCredentials sends HTTP Basic credentials to the token and revocation
// endpoints: user and pass base64-encoded as a client would, or raw as the whole
// Authorization header when raw is set.
func FuzzBasicCredentials(f *testing.F) {
	targets := fuzzTargets(f)
	f.Fuzz(func(t *testing.T, user, pass, raw string) {
		header := raw
		if header == "" {
			header = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
		}
		for _, target := range targets {
			for _, call := range []struct{ path, body string }{
				{"/api/token", "grant_type=client_credentials"},
				{"/api/revoke", "token=" + fuzzRefresh + "-not"},
			} {
				req := newRequest("POST", call.path, "", []byte(call.body))
				req.Header.Set("Content-Type", formType)
				req.Header.Set("Authorization", header)
				checkAnswer(t, target, req)
			}
		}
	})
}

// FuzzClientIDQuery sends any query to DELETE Clients with a valid bearer token.
func FuzzClientIDQuery(f *testing.F) {
	targets := fuzzTargets(f)
	f.Fuzz(func(t *testing.T, rawQuery string) {
		for _, target := range targets {
			req := newRequest("DELETE", "/api/v7.1/Clients", rawQuery, nil)
			req.Header.Set("Authorization", "Bearer "+fuzzAccess)
			checkAnswer(t, target, req)
		}
	})
}

// FuzzBearerHeader sends any Authorization header to a protected operation.
func FuzzBearerHeader(f *testing.F) {
	targets := fuzzTargets(f)
	f.Fuzz(func(t *testing.T, header string) {
		for _, target := range targets {
			req := newRequest("GET", "/api/v7.1/Clients", "", nil)
			req.Header.Set("Authorization", header)
			resp := checkAnswer(t, target, req)
			if resp.StatusCode == 200 && !strings.Contains(header, fuzzAccess) {
				t.Fatalf("%s server: GET Clients with Authorization %q answered 200", target.name, header)
			}
		}
	})
}
