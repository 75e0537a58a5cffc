package server

import (
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/oapi-codegen/runtime"

	"github.com/vroauth/vroauth/gen"
)

// Limits of the token and revocation forms.
const (
	maxFormParts = 16
	maxFormValue = 4 << 10
)

// credentialFields are the form fields that must never travel in the URL query.
var credentialFields = []string{"grant_type", "username", "password", "client_id", "client_secret", "refresh_token", "token"}

// oauthCall is what the token and revocation endpoints need to know of the raw request
// beyond its decoded body: the form as sent (to refuse repeated fields), HTTP Basic
// credentials, and the caller's address.
type oauthCall struct {
	form       url.Values // the urlencoded form; nil for multipart
	basic      bool       // an Authorization: Basic header was sent
	basicID    string     // form-url-decoded (RFC 6749 §2.3.1)
	basicSec   string
	basicErr   bool // the Basic header was not valid
	queryCreds bool // a credential field arrived in the URL query
	remoteIP   string
}

type oauthCallKey struct{}

// captureOAuthCall is a strict middleware that records an oauthCall for the token and
// revocation operations, which the strict handler methods read with oauthCallFrom.
func captureOAuthCall(f gen.StrictHandlerFunc, operationID string) gen.StrictHandlerFunc {
	if operationID != "IssueToken" && operationID != "RevokeToken" {
		return f
	}
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, request any) (any, error) {
		call := &oauthCall{form: r.PostForm, remoteIP: remoteIP(r)}
		query := r.URL.Query()
		for _, name := range credentialFields {
			if query.Has(name) {
				call.queryCreds = true
			}
		}
		// Only the Basic scheme authenticates a client here; another scheme (a bearer
		// token a generic transport attached) is ignored.
		if h := r.Header.Get("Authorization"); len(h) >= 6 && strings.EqualFold(h[:6], "basic ") {
			call.basic = true
			id, secret, ok := r.BasicAuth()
			call.basicID, call.basicSec, call.basicErr = decodeBasic(id, secret, ok)
		}
		return f(context.WithValue(ctx, oauthCallKey{}, call), w, r, request)
	}
}

func oauthCallFrom(ctx context.Context) *oauthCall {
	if c, ok := ctx.Value(oauthCallKey{}).(*oauthCall); ok {
		return c
	}
	return &oauthCall{}
}

// decodeBasic form-url-decodes both parts of HTTP Basic credentials (RFC 6749 §2.3.1).
func decodeBasic(id, secret string, ok bool) (string, string, bool) {
	if !ok {
		return "", "", true
	}
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	if err1 != nil || err2 != nil {
		return "", "", true
	}
	return id, secret, false
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// check refuses what RFC 6749 forbids of every token or revocation request:
// credentials in the query (§2.3.1, §3.2) and repeated fields (§3.2).
func (c *oauthCall) check() *oauthError {
	if c.queryCreds {
		return invalidRequest("credentials and grant parameters must be sent in the request body, not the URL query")
	}
	for name, values := range c.form {
		if len(values) > 1 {
			return invalidRequest("the parameter " + name + " must not be repeated")
		}
	}
	return nil
}

// readMultipartForm reads a multipart/form-data token form into v: text fields only,
// each once, within the form limits.
func readMultipartForm(mr *multipart.Reader, v any) *oauthError {
	values := url.Values{}
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || n >= maxFormParts {
			return invalidRequest("the multipart form is malformed or too large")
		}
		name := part.FormName()
		if part.FileName() != "" || name == "" {
			return invalidRequest("the multipart form must hold only named text fields")
		}
		if values.Has(name) {
			return invalidRequest("the parameter " + name + " must not be repeated")
		}
		b, err := io.ReadAll(io.LimitReader(part, maxFormValue+1))
		if err != nil || len(b) > maxFormValue {
			return invalidRequest("the multipart form is malformed or too large")
		}
		values.Set(name, string(b))
	}
	if err := runtime.BindForm(v, values, nil, nil); err != nil {
		return invalidRequest("the multipart form is malformed")
	}
	return nil
}

// value returns *p, or "" for nil.
func value(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// clientCredentials returns the client credentials of a request, from the form fields
// or from HTTP Basic. present is false when the request carries none.
func (c *oauthCall) clientCredentials(formID, formSecret string) (id, secret string, present bool, e *oauthError) {
	formPresent := formID != "" || formSecret != ""
	basicPresent := c.basic && (c.basicID != "" || c.basicSec != "" || c.basicErr)
	switch {
	case formPresent && basicPresent:
		return "", "", false, invalidRequest("authenticate the client with form fields or HTTP Basic, not both")
	case basicPresent && c.basicErr:
		return "", "", false, &oauthError{code: "invalid_client", description: "the Basic credentials are malformed", basic: true, reason: reasonMalformed}
	case basicPresent:
		return strings.TrimSpace(c.basicID), c.basicSec, true, nil
	case formPresent:
		return strings.TrimSpace(formID), formSecret, true, nil
	}
	return "", "", false, nil
}
