package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vroauth/vroauth/internal/core"
)

// multipartBody returns a multipart/form-data body of fields; a field named "@name" is
// sent as a file part.
func multipartBody(fields ...string) (string, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i < len(fields); i += 2 {
		if name, ok := strings.CutPrefix(fields[i], "@"); ok {
			fw, _ := mw.CreateFormFile(name, name+".txt")
			io.WriteString(fw, fields[i+1])
			continue
		}
		mw.WriteField(fields[i], fields[i+1])
	}
	mw.Close()
	return mw.FormDataContentType(), b.String()
}

// kinPhrases are bits of kin-openapi's error texts that must never reach a caller.
var kinPhrases = []string{"doesn't match", "value is required but missing", "schema", "Content-Type has unexpected", "request body has an error", "parameter \""}

// TestValidateRequests sends the same requests to a server with --validate-requests and
// to one without: both answer the same status and error code, and the validating one
// answers with its own messages in the spec's bodies.
func TestValidateRequests(t *testing.T) {
	envs := map[bool]*Env{}
	tokens := map[bool]string{}
	for _, on := range []bool{false, true} {
		env := MustServe(t, Options{ValidateRequests: on})
		env.MustUser("alice", "alice-password", core.RoleAdministrator)
		envs[on], tokens[on] = env, env.MustLogin("alice", "alice-password").AccessToken
	}
	mpOK, mpOKBody := multipartBody("grant_type", "password", "username", "ALICE", "password", "alice-password", "scope", "extra")
	mpNoGrant, mpNoGrantBody := multipartBody("username", "alice", "password", "alice-password")
	mpFile, mpFileBody := multipartBody("grant_type", "password", "username", "alice", "@password", "alice-password")
	const guid = "0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11"
	tests := []struct {
		name, method, path, ctype, body string
		bearer                          bool
		status                          int
		code                            string // error or errorCode
		message                         string // with validation; "" when it is the handler's own
	}{
		{"OKPassword", "POST", "/api/token", formType, "grant_type=password&username=alice&password=alice-password&scope=x", false, 200, "", ""},
		{"OKMultipart", "POST", "/api/token", mpOK, mpOKBody, false, 200, "", ""},
		{"OKUnknownGrant", "POST", "/api/token", formType, "grant_type=mfa", false, 400, "unsupported_grant_type", ""},
		{"OKDeleteUnknown", "DELETE", "/api/v7.1/Clients?clientId=" + strings.ToUpper(guid), "", "", true, 404, "NotFound", ""},
		{"OKList", "GET", "/api/v7.1/Clients", "", "", true, 200, "", ""},
		{"OKNoTokenFirst", "DELETE", "/api/v7.1/Clients?clientId=not-a-guid", "", "", false, 401, "Unauthorized", ""},
		{"ErrNoGrantType", "POST", "/api/token", formType, "username=alice&password=alice-password", false, 400, "invalid_request", "the parameter grant_type is required"},
		{"ErrMultipartNoGrantType", "POST", "/api/token", mpNoGrant, mpNoGrantBody, false, 400, "invalid_request", "the parameter grant_type is required"},
		{"ErrMultipartFile", "POST", "/api/token", mpFile, mpFileBody, false, 400, "invalid_request", "the request body is malformed"},
		{"ErrMultipartBroken", "POST", "/api/token", "multipart/form-data; boundary=xyz", "--xyz\r\nbroken", false, 400, "invalid_request", "the request body is malformed"},
		{"ErrMalformedForm", "POST", "/api/token", formType, "grant_type=password&password=s3cret%zz", false, 400, "invalid_request", "the request body is malformed"},
		{"ErrJSON", "POST", "/api/token", "application/json", `{"grant_type":"password"}`, false, 400, "invalid_request",
			"the request body must be application/x-www-form-urlencoded or multipart/form-data"},
		{"ErrNoBody", "POST", "/api/token", formType, "", false, 400, "invalid_request", "the request body is required"},
		{"ErrRevokeNoToken", "POST", "/api/revoke", formType, "token_type_hint=access_token", false, 400, "invalid_request", "the parameter token is required"},
		{"ErrRevokeMultipart", "POST", "/api/revoke", mpOK, mpOKBody, false, 400, "invalid_request", "the request body must be application/x-www-form-urlencoded"},
		{"ErrDeleteNoID", "DELETE", "/api/v7.1/Clients", "", "", true, 400, "BadRequest", "clientId is required"},
		{"ErrDeleteMalformedID", "DELETE", "/api/v7.1/Clients?clientId=not-a-guid", "", "", true, 400, "BadRequest",
			"clientId must be a GUID such as 0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11"},
		{"ErrDeleteEmptyID", "DELETE", "/api/v7.1/Clients?clientId=", "", "", true, 400, "BadRequest", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type answer struct {
				status      int
				code, msg   string
				contentType string
			}
			answers := map[bool]answer{}
			for _, on := range []bool{false, true} {
				env := envs[on]
				req, err := http.NewRequest(tt.method, env.HTTP.URL+tt.path, strings.NewReader(tt.body))
				if err != nil {
					t.Fatal(err)
				}
				if tt.ctype != "" {
					req.Header.Set("Content-Type", tt.ctype)
				}
				if tt.bearer {
					req.Header.Set("Authorization", "Bearer "+tokens[on])
				}
				resp, err := env.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body := readAll(t, resp)
				var m map[string]any
				json.Unmarshal([]byte(body), &m)
				code, _ := m["error"].(string)
				if c, ok := m["errorCode"].(string); ok {
					code = c
				}
				msg, _ := m["error_description"].(string)
				if s, ok := m["message"].(string); ok {
					msg = s
				}
				answers[on] = answer{resp.StatusCode, code, msg, resp.Header.Get("Content-Type")}
				for _, p := range kinPhrases {
					if strings.Contains(body, p) {
						t.Errorf("validate=%v: body = %s; want no kin-openapi text (%q)", on, body, p)
					}
				}
				if strings.Contains(body, "s3cret") {
					t.Errorf("validate=%v: body = %s; want no value echoed", on, body)
				}
			}
			off, on := answers[false], answers[true]
			if on.status != tt.status || on.code != tt.code {
				t.Errorf("with validation: %s %s = %d %q; want %d %q", tt.method, tt.path, on.status, on.code, tt.status, tt.code)
			}
			if off.status != on.status || off.code != on.code {
				t.Errorf("without validation: %d %q; with: %d %q; want the same", off.status, off.code, on.status, on.code)
			}
			if tt.message != "" && on.msg != tt.message {
				t.Errorf("with validation: message = %q; want %q", on.msg, tt.message)
			}
		})
	}
}

// TestValidateRequestsStricter: a GUID in braces is one the handlers' parser accepts,
// but not the contract's format; with validation it is refused.
func TestValidateRequestsStricter(t *testing.T) {
	env := MustServe(t, Options{ValidateRequests: true})
	env.MustUser("alice", "alice-password", core.RoleAdministrator)
	tok := env.MustLogin("alice", "alice-password").AccessToken
	req, _ := http.NewRequest("DELETE", env.HTTP.URL+"/api/v7/Clients?clientId={0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11}", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := env.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 400 || !strings.Contains(body, "clientId must be a GUID") {
		t.Errorf("DELETE Clients?clientId={guid} = %d %s; want 400 clientId must be a GUID", resp.StatusCode, body)
	}
}

// BenchmarkValidateRequests measures a request through the whole stack in process,
// with and without --validate-requests; the difference is the validator's cost.
func BenchmarkValidateRequests(b *testing.B) {
	for _, on := range []bool{false, true} {
		env := MustServe(b, Options{ValidateRequests: on})
		env.MustUser("alice", "alice-password", core.RoleAdministrator)
		tok := env.MustLogin("alice", "alice-password").AccessToken
		env.MustCreateClient(tok)
		h := env.Server.Handler()
		mode := map[bool]string{false: "off", true: "on"}[on]
		cases := []struct {
			name, method, path, ctype, body string
			status                          int
		}{
			{"ListClients", "GET", "/api/v7.1/Clients", "", "", 200},
			{"DeleteClientUnknown", "DELETE", "/api/v7.1/Clients?clientId=0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11", "", "", 404},
			{"RevokeUnknownToken", "POST", "/api/revoke", formType, "token=unknown-token&token_type_hint=refresh_token", 200},
		}
		for _, c := range cases {
			b.Run(c.name+"/validate="+mode, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
					if c.ctype != "" {
						req.Header.Set("Content-Type", c.ctype)
					}
					if c.ctype == "" {
						req.Header.Set("Authorization", "Bearer "+tok)
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != c.status {
						b.Fatalf("%s %s = %d %s; want %d", c.method, c.path, w.Code, w.Body, c.status)
					}
				}
			})
		}
	}
}
