package auth

import (
	"errors"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
)

// Transport is an [http.RoundTripper] that adds an access token from Source to every
// request, as "Authorization: Bearer <token>", and sends it with Base.
//
// When a server answers 401 and its challenge says the token is invalid (RFC 6750
// error="invalid_token", or a 401 without Bearer error details), and Source is an
// [Invalidator], Transport has Source replace exactly the token that failed and
// retries the request once with the new one, provided the request body can be sent
// again (no body, or Request.GetBody set, as http.NewRequest does for in-memory
// bodies). It never retries more than once.
//
// A redirect that an http.Client follows to another scheme, host or port is sent
// without a token, so that a redirecting server cannot collect it. A Transport must
// not be copied after first use.
type Transport struct {
	// Source supplies the tokens; a [*Source] refreshes them as needed.
	Source TokenSource
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper

	header atomic.Pointer[authHeader] // the Authorization value of the last token used
}

// authHeader is a token's Authorization header value, built once per token. The
// slice is shared by the requests that carry it, which only read it.
type authHeader struct {
	tok   *Token
	value []string
}

// RoundTrip sends a copy of req that carries an access token; req itself is never
// modified. Its body is closed on every path, as http.RoundTripper requires.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Source == nil {
		closeBody(req.Body)
		return nil, errors.New("auth: Transport has no Source")
	}
	if req.Response != nil && leavesOrigin(req) {
		return t.base().RoundTrip(req)
	}
	tok, err := t.Source.Token(req.Context())
	if err != nil {
		closeBody(req.Body)
		return nil, err
	}
	resp, err := t.base().RoundTrip(t.authorize(req, req.Body, tok))
	if err != nil || !tokenRejected(resp) {
		return resp, err
	}
	return t.retry(req, resp, tok)
}

// retry replaces the rejected token old and sends req once more; when it cannot, it
// returns the first answer, resp.
func (t *Transport) retry(req *http.Request, resp *http.Response, old *Token) (*http.Response, error) {
	inv, ok := t.Source.(Invalidator)
	if !ok {
		return resp, nil
	}
	body, ok := replayBody(req)
	if !ok {
		return resp, nil
	}
	inv.Invalidate(old)
	tok, err := t.Source.Token(req.Context())
	if err != nil {
		closeBody(body)
		discard(resp)
		return nil, err
	}
	if tok.AccessToken == old.AccessToken { // the source has nothing better
		closeBody(body)
		return resp, nil
	}
	discard(resp)
	return t.base().RoundTrip(t.authorize(req, body, tok))
}

// CloseIdleConnections closes the idle connections of Base, if it can, so that
// http.Client.CloseIdleConnections works through a Transport.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base().(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// authorize returns a shallow copy of req with body and a copy of its header map that
// carries tok. The header values are shared with req, which is never modified.
// maps.Clone copies the map's table as it is, without hashing each key again.
func (t *Transport) authorize(req *http.Request, body io.ReadCloser, tok *Token) *http.Request {
	r := new(http.Request)
	*r = *req
	r.Body = body
	r.Header = maps.Clone(req.Header)
	if r.Header == nil {
		r.Header = make(http.Header, 1)
	}
	r.Header["Authorization"] = t.headerValue(tok)
	return r
}

// headerValue returns the Authorization value for tok, reusing the last one built
// while the source keeps returning the same token.
func (t *Transport) headerValue(tok *Token) []string {
	if h := t.header.Load(); h != nil && h.tok == tok {
		return h.value
	}
	h := &authHeader{tok: tok, value: []string{"Bearer " + tok.AccessToken}}
	t.header.Store(h)
	return h.value
}

// leavesOrigin reports whether req, a redirect, goes to another scheme, host or port
// than the request that started the redirect chain.
func leavesOrigin(req *http.Request) bool {
	first := req
	for first.Response != nil && first.Response.Request != nil {
		first = first.Response.Request
	}
	return first.URL.Scheme != req.URL.Scheme || !strings.EqualFold(first.URL.Host, req.URL.Host)
}

// replayBody returns a fresh copy of req's body, and whether there is one to send.
func replayBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	return body, err == nil
}

func closeBody(body io.ReadCloser) {
	if body != nil {
		_ = body.Close()
	}
}

// discard reads a little of resp's body, so that its connection can be reused, and
// closes it.
func discard(resp *http.Response) {
	if resp.Body != nil {
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		_ = resp.Body.Close()
	}
}

// tokenRejected reports whether resp says the access token was not accepted: a 401
// without a challenge, or with a Bearer challenge whose error is absent or
// "invalid_token". A 401 that challenges only other schemes (a proxy asking for Basic,
// say) or that reports another error is not about the token.
func tokenRejected(resp *http.Response) bool {
	if resp.StatusCode != http.StatusUnauthorized {
		return false
	}
	values := resp.Header.Values("WWW-Authenticate")
	if len(values) == 0 {
		return true
	}
	found, code := bearerError(values)
	return found && (code == "" || code == "invalid_token")
}

// bearerError finds the Bearer challenge among WWW-Authenticate values (RFC 9110
// §11.6.1) and returns its error parameter.
func bearerError(values []string) (found bool, code string) {
	for _, v := range values {
		scheme := ""
		for p := (lexer{s: v}); !p.done(); {
			name := p.token()
			if name == "" {
				p.i++ // skip what cannot start a token
				continue
			}
			if !p.consume('=') {
				scheme = name // a new challenge
				found = found || strings.EqualFold(scheme, "Bearer")
				continue
			}
			value := p.value()
			if strings.EqualFold(scheme, "Bearer") && strings.EqualFold(name, "error") {
				code = value
			}
		}
	}
	return found, code
}
