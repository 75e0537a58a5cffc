package apitest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/vroauth/vroauth/internal/apitest"
)

// recorder is a testing.TB that keeps what Errorf reports instead of failing.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) reports() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

// answer is a canned response of the fake server.
type answer struct {
	status  int
	headers map[string]string
	body    string
}

const (
	guid      = "0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11"
	formType  = "application/x-www-form-urlencoded"
	jsonType  = "application/json"
	tokenBody = `{"access_token":"a","token_type":"bearer","expires_in":899,"refresh_token":"r"}`
)

var noStore = map[string]string{"Content-Type": jsonType, "Cache-Control": "no-store", "Pragma": "no-cache"}

// serve starts a server that answers every request with a, and returns a client that
// validates through apitest and reports to a recorder. got receives the body the server
// read.
func serve(t *testing.T, a answer, got *[]byte) (*http.Client, *recorder, string) {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if got != nil {
			*got = b
		}
		for k, v := range a.headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(ts.Close)
	rec := &recorder{TB: t}
	return apitest.Client(rec, nil, apitest.WithRoutePath(apitest.VersionAliases)), rec, ts.URL
}

func do(t *testing.T, c *http.Client, ctx context.Context, method, url, contentType, body, bearer string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func multipartForm(fields ...string) (string, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	mw.Close()
	return mw.FormDataContentType(), b.String()
}

// multipartFile returns a form whose password is a file part.
func multipartFile(fields ...string) (string, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	fw, _ := mw.CreateFormFile("password", "pw.txt")
	io.WriteString(fw, "pw")
	mw.Close()
	return mw.FormDataContentType(), b.String()
}

func TestTransport(t *testing.T) {
	mpType, mpBody := multipartForm("grant_type", "password", "username", `CORP\jsmith`, "password", "pw")
	mpFileType, mpFileBody := multipartFile("grant_type", "password")
	tests := []struct {
		name                      string
		method, path, ctype, body string
		bearer                    string
		skipRequest               bool
		answer                    answer
		want                      []string // substrings of the reports; none expected when empty
	}{
		{name: "OKCreateClient", method: "POST", path: "/api/v7.1/Clients", bearer: "t",
			answer: answer{200, map[string]string{"Content-Type": jsonType}, `{"client_id":"` + guid + `","client_secret":"s"}`}},
		{name: "OKVersionAlias", method: "GET", path: "/api/v7.21/Clients", bearer: "t",
			answer: answer{200, map[string]string{"Content-Type": jsonType}, `["` + strings.ToUpper(guid) + `"]`}},
		{name: "OKTokenForm", method: "POST", path: "/api/token", ctype: formType, body: "grant_type=password&username=CORP%5Cjsmith&password=pw",
			answer: answer{200, noStore, tokenBody}},
		{name: "OKTokenMultipart", method: "POST", path: "/api/token", ctype: mpType, body: mpBody,
			answer: answer{200, noStore, tokenBody}},
		{name: "OKDelete", method: "DELETE", path: "/api/v7.1/Clients?clientId=" + guid, bearer: "t", answer: answer{status: 204}},
		{name: "OKNotAnOperation", method: "GET", path: "/healthz", answer: answer{418, nil, "teapot"}},
		{name: "OKUnknownMethod", method: "PUT", path: "/api/v7.1/Clients", answer: answer{405, nil, "no"}},
		{name: "OKMalformedRequestRefused", method: "DELETE", path: "/api/v7.1/Clients?clientId=not-a-guid", bearer: "t",
			answer: answer{400, map[string]string{"Content-Type": jsonType}, `{"errorCode":"BadRequest","message":"clientId must be a GUID"}`}},
		{name: "OKNoTokenRefused", method: "GET", path: "/api/v7.1/Clients",
			answer: answer{401, map[string]string{"Content-Type": jsonType, "WWW-Authenticate": `Bearer realm="vroauth"`}, `{"errorCode":"Unauthorized","message":"no"}`}},
		{name: "OKSkipRequestValidation", method: "POST", path: "/api/token", ctype: "application/json", body: `{}`, skipRequest: true,
			answer: answer{200, noStore, tokenBody}},

		{name: "ErrRenamedField", method: "POST", path: "/api/v7.1/Clients", bearer: "t",
			answer: answer{200, map[string]string{"Content-Type": jsonType}, `{"clientId":"` + guid + `","client_secret":"s"}`},
			want:   []string{"CreateClient (POST /api/v7.1/Clients) answered 200", `property "client_id" is missing`, `schema keyword "required"`}},
		{name: "ErrUndeclaredStatus", method: "GET", path: "/api/v7.1/Clients", bearer: "t",
			answer: answer{418, map[string]string{"Content-Type": jsonType}, `{}`},
			want:   []string{"ListClients (GET /api/v7.1/Clients) answered 418", "status is not supported"}},
		{name: "ErrMissingHeader", method: "POST", path: "/api/token", ctype: formType, body: "grant_type=refresh_token&refresh_token=r",
			answer: answer{200, map[string]string{"Content-Type": jsonType, "Cache-Control": "no-store"}, tokenBody},
			want:   []string{"IssueToken (POST /api/token) answered 200", `response header "Pragma" missing`}},
		{name: "ErrHeaderValue", method: "POST", path: "/api/token", ctype: formType, body: "grant_type=refresh_token&refresh_token=r",
			answer: answer{200, map[string]string{"Content-Type": jsonType, "Pragma": "no-cache", "Cache-Control": "max-age=60"}, tokenBody},
			want:   []string{`response header "Cache-Control" doesn't match schema`, `schema keyword "enum"`}},
		{name: "ErrExtraTokenField", method: "POST", path: "/api/token", ctype: formType, body: "grant_type=refresh_token&refresh_token=r",
			answer: answer{200, noStore, `{"access_token":"a","token_type":"bearer","expires_in":899,"refresh_token":"r","scope":"x"}`},
			want:   []string{`property "scope" is unsupported`}},
		{name: "ErrNotAGUID", method: "GET", path: "/api/v7.1/Clients", bearer: "t",
			answer: answer{200, map[string]string{"Content-Type": jsonType}, `["not-a-guid"]`},
			want:   []string{"at /0:", `schema keyword "format"`}},
		{name: "ErrWrongContentType", method: "GET", path: "/api/v7.1/Clients", bearer: "t",
			answer: answer{200, map[string]string{"Content-Type": "text/plain"}, `[]`},
			want:   []string{"header Content-Type has unexpected value"}},
		{name: "ErrErrorBody", method: "DELETE", path: "/api/v7.1/Clients?clientId=" + guid, bearer: "t",
			answer: answer{404, map[string]string{"Content-Type": jsonType}, `{"errorCode":"Gone","message":"x"}`},
			want:   []string{"DeleteClient (DELETE /api/v7.1/Clients) answered 404", "at /errorCode:", `schema keyword "enum"`}},
		{name: "ErrMalformedRequestAccepted", method: "DELETE", path: "/api/v7.1/Clients?clientId=not-a-guid", bearer: "t",
			answer: answer{status: 204},
			want:   []string{"DeleteClient (DELETE /api/v7.1/Clients) answered 204 to a request that breaks the contract", `query parameter "clientId"`}},
		{name: "ErrNoTokenAccepted", method: "GET", path: "/api/v7.1/Clients",
			answer: answer{200, map[string]string{"Content-Type": jsonType}, `[]`},
			want:   []string{"answered 200 to a request that breaks the contract", "security"}},
		{name: "ErrFormWithoutGrantAccepted", method: "POST", path: "/api/token", ctype: mpType, body: strings.Replace(mpBody, `"grant_type"`, `"grant"`, 1),
			answer: answer{200, noStore, tokenBody},
			want:   []string{"request body: doesn't match schema #/components/schemas/TokenRequest: at /grant_type: ", `property "grant_type" is missing`}},
		{name: "ErrMultipartFileAccepted", method: "POST", path: "/api/token", ctype: mpFileType, body: mpFileBody,
			answer: answer{200, noStore, tokenBody},
			want:   []string{"request body: failed to decode request body: part password: a file where a text field is expected"}},
		{name: "ErrNoGrantTypeAccepted", method: "POST", path: "/api/token", ctype: formType, body: "username=u&password=p",
			answer: answer{200, noStore, tokenBody},
			want:   []string{"IssueToken (POST /api/token) answered 200 to a request that breaks the contract: request body: ", `property "grant_type" is missing`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []byte
			c, rec, url := serve(t, tt.answer, &got)
			ctx := context.Background()
			if tt.skipRequest {
				ctx = apitest.SkipRequestValidation(ctx)
			}
			body := do(t, c, ctx, tt.method, url+tt.path, tt.ctype, tt.body, tt.bearer)
			if body != tt.answer.body {
				t.Errorf("the caller read %q; want %q", body, tt.answer.body)
			}
			if string(got) != tt.body {
				t.Errorf("the server read %q; want %q", got, tt.body)
			}
			reports := rec.reports()
			if len(tt.want) == 0 && reports != "" {
				t.Errorf("reports = %s; want none", reports)
			}
			if len(tt.want) > 0 && reports == "" {
				t.Errorf("reports = none; want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(reports, w) {
					t.Errorf("reports = %s; want one containing %q", reports, w)
				}
			}
		})
	}
}

// TestReportsNoSecrets: a violation names the rule, never the value that broke it.
func TestReportsNoSecrets(t *testing.T) {
	c, rec, url := serve(t, answer{200, noStore, `{"access_token":"a","token_type":"BEARER-s3cr3t","expires_in":899,"refresh_token":"r"}`}, nil)
	do(t, c, context.Background(), "POST", url+"/api/token", formType, "grant_type=password&username=u&password=pw", "")
	reports := rec.reports()
	if !strings.Contains(reports, "at /token_type:") {
		t.Fatalf("reports = %q; want the token_type violation", reports)
	}
	if strings.Contains(reports, "s3cr3t") {
		t.Errorf("reports = %q; want no value echoed", reports)
	}
}

func TestVersionAliases(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/api/v7/Clients", "/api/v7.1/Clients"},
		{"/api/v7.21/Clients", "/api/v7.1/Clients"},
		{"/api/v6/Clients", "/api/v7.1/Clients"},
		{"/api/token", "/api/token"},
		{"/api/v7/Clients/x", "/api/v7/Clients/x"},
		{"/api/latest/Clients", "/api/latest/Clients"},
	}
	for _, tt := range tests {
		if got := apitest.VersionAliases(tt.in); got != tt.want {
			t.Errorf("VersionAliases(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
