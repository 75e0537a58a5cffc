package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkValidateMiddleware measures the request validator alone, in front of a
// handler that does nothing: its cost per request, without the rest of the stack.
func BenchmarkValidateMiddleware(b *testing.B) {
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	cases := []struct {
		name, method, path, ctype, body string
	}{
		{"ListClients", "GET", "/api/v7.1/Clients", "", ""},
		{"DeleteClient", "DELETE", "/api/v7.1/Clients?clientId=0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11", "", ""},
		{"IssueTokenForm", "POST", "/api/token", "application/x-www-form-urlencoded",
			"grant_type=client_credentials&client_id=0b5a4f0e-6c1d-4e0b-9d0c-3f6c1c2b7a11&client_secret=9pQ3xJ0tqS2Kc1mB4wV7yZ8aR5dF6gH0jL3nP2sT4uW"},
		{"IssueTokenMultipart", "POST", "/api/token", "multipart/form-data; boundary=b",
			"--b\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\npassword\r\n" +
				"--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nCORP\\jsmith\r\n" +
				"--b\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\ncorrect horse\r\n--b--\r\n"},
	}
	for _, validate := range []bool{false, true} {
		h := (&Server{validate: validate}).validateRequests(noop)
		mode := map[bool]string{false: "off", true: "on"}[validate]
		for _, c := range cases {
			b.Run(c.name+"/validate="+mode, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
					if c.ctype != "" {
						req.Header.Set("Content-Type", c.ctype)
					}
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusNoContent {
						b.Fatalf("%s %s = %d %s; want 204 (the request passes)", c.method, c.path, w.Code, w.Body)
					}
				}
			})
		}
	}
}
