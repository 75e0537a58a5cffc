package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxTokenResponse bounds the token endpoint's answers that a [Source] reads.
const maxTokenResponse = 64 << 10

// RetrieveError is the token endpoint's refusal to issue a token: an RFC 6749 §5.2
// error. Its text never contains a secret, a password or a token.
type RetrieveError struct {
	GrantType   string // the grant that was refused: client_credentials, password or refresh_token
	StatusCode  int    // the HTTP status, such as 400 or 401
	ErrorCode   string // the RFC 6749 error code, such as "invalid_grant"; empty if the body had none
	Description string // the server's error_description, with any credential removed
}

// Error returns a one-line description of e.
func (e *RetrieveError) Error() string {
	s := fmt.Sprintf("auth: %s grant refused: %d %s",
		e.GrantType, e.StatusCode, http.StatusText(e.StatusCode))
	if e.ErrorCode != "" {
		s += ": " + e.ErrorCode
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// rejected reports whether err is the token endpoint refusing the request itself (400
// or 401), as opposed to a failure to get an answer.
func rejected(err error) bool {
	var re *RetrieveError
	return errors.As(err, &re) &&
		(re.StatusCode == http.StatusBadRequest || re.StatusCode == http.StatusUnauthorized)
}

func refreshForm(refreshToken string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
}

// credentialsForm returns the form that signs in with the configured credentials,
// which go in form fields as the Orchestrator expects (never HTTP Basic).
func (s *Source) credentialsForm() (url.Values, error) {
	c := &s.cfg
	switch {
	case c.ClientID != "" && c.Username != "":
		return nil, errors.New("auth: Config has both client and user credentials")
	case c.ClientID != "":
		return url.Values{"grant_type": {"client_credentials"},
			"client_id": {c.ClientID}, "client_secret": {c.ClientSecret}}, nil
	case c.Username != "":
		return url.Values{"grant_type": {"password"},
			"username": {c.Username}, "password": {c.Password}}, nil
	}
	return nil, ErrNoCredentials
}

// tokenResponse is the token endpoint's success body.
type tokenResponse struct {
	AccessToken  string      `json:"access_token"`
	TokenType    string      `json:"token_type"`
	ExpiresIn    json.Number `json:"expires_in"`
	RefreshToken string      `json:"refresh_token"`
}

// errorResponse is the token endpoint's RFC 6749 §5.2 error body.
type errorResponse struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// exchange posts form to the token endpoint and returns the token it issues.
func (s *Source) exchange(ctx context.Context, form url.Values) (*Token, error) {
	grant := form.Get("grant_type")
	encoded := strings.NewReader(form.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.TokenURL, encoded)
	if err != nil {
		return nil, fmt.Errorf("auth: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	start := s.cfg.Now()
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("auth: %s grant: %w", grant, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return nil, fmt.Errorf("auth: %s grant: reading the answer: %w", grant, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, s.retrieveError(grant, resp.StatusCode, body)
	}
	t, err := s.parseToken(body, start)
	if err != nil {
		return nil, fmt.Errorf("auth: %s grant: %w", grant, err)
	}
	return t, nil
}

// parseToken decodes a success body; expiries count from start, the time the request
// was sent, to err on the safe side.
func (s *Source) parseToken(body []byte, start time.Time) (*Token, error) {
	var r tokenResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, errors.New("the answer is not a token response")
	}
	if r.AccessToken == "" {
		return nil, errors.New("the answer has no access_token")
	}
	if r.TokenType != "" && !strings.EqualFold(r.TokenType, "bearer") {
		return nil, fmt.Errorf("unsupported token_type %q", r.TokenType)
	}
	t := &Token{AccessToken: r.AccessToken, TokenType: r.TokenType, RefreshToken: r.RefreshToken}
	if r.ExpiresIn != "" {
		secs, err := strconv.ParseInt(string(r.ExpiresIn), 10, 32)
		if err != nil || secs < 0 {
			return nil, errors.New("the answer has an invalid expires_in")
		}
		if secs > 0 { // 0 means unknown, as in x/oauth2
			t.Expiry = start.Add(time.Duration(secs) * time.Second)
		}
	}
	if t.RefreshToken != "" && s.cfg.RefreshTokenLifetime > 0 {
		t.RefreshExpiry = start.Add(s.cfg.RefreshTokenLifetime)
	}
	return t, nil
}

// retrieveError builds the error of a refusal, keeping out anything secret.
func (s *Source) retrieveError(grant string, status int, body []byte) *RetrieveError {
	var r errorResponse
	_ = json.Unmarshal(body, &r) // a body that is not RFC 6749 JSON leaves both fields empty
	return &RetrieveError{
		GrantType:   grant,
		StatusCode:  status,
		ErrorCode:   printable(s.redact(r.Error), 64),
		Description: printable(s.redact(r.Description), 256),
	}
}

// redact removes the configured secrets and the current refresh token from a text the
// server sent, in case it echoes them.
func (s *Source) redact(text string) string {
	s.mu.Lock()
	secrets := []string{s.cfg.ClientSecret, s.cfg.Password}
	if s.tok != nil {
		secrets = append(secrets, s.tok.RefreshToken, s.tok.AccessToken)
	}
	s.mu.Unlock()
	for _, secret := range secrets {
		if secret != "" {
			text = strings.ReplaceAll(text, secret, "[redacted]")
		}
	}
	return text
}

// printable truncates text to max bytes and drops its control characters, so that a
// server cannot forge log lines through an error message.
func printable(text string, max int) string {
	if len(text) > max {
		text = text[:max]
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, text)
}
