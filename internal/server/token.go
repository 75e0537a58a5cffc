package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/vroauth/vroauth/gen"
	"github.com/vroauth/vroauth/internal/core"
)

// IssueToken implements POST /api/token: the password, client_credentials and
// refresh_token grants.
func (s *Server) IssueToken(ctx context.Context, req gen.IssueTokenRequestObject) (gen.IssueTokenResponseObject, error) {
	call := oauthCallFrom(ctx)
	form, oerr := tokenForm(call, req)
	if oerr != nil {
		return oerr.tokenResponse(), nil
	}
	var tokens *issued
	var err error
	switch form.GrantType {
	case "password":
		tokens, err = s.passwordGrant(ctx, call, form)
	case "client_credentials":
		tokens, err = s.clientCredentialsGrant(ctx, call, form)
	case "refresh_token":
		tokens, err = s.refreshGrant(ctx, call, form)
	case "":
		err = invalidRequest("grant_type is required")
	default:
		err = &oauthError{code: "unsupported_grant_type", description: "grant_type must be password, client_credentials or refresh_token"}
	}
	if oerr, ok := err.(*oauthError); ok {
		s.auditGrant(ctx, call, form.GrantType, nil, oerr)
		return oerr.tokenResponse(), nil
	}
	if err != nil {
		return nil, err
	}
	s.auditGrant(ctx, call, form.GrantType, tokens.session, nil)
	return gen.IssueToken200JSONResponse{
		Body: gen.TokenResponse{
			AccessToken:  tokens.access,
			TokenType:    "bearer",
			ExpiresIn:    expiresIn(s.accessTTL),
			RefreshToken: tokens.refresh,
		},
		Headers: gen.IssueToken200ResponseHeaders{CacheControl: "no-store", Pragma: "no-cache"},
	}, nil
}

// expiresIn is the access token lifetime as the Orchestrator reports it: whole seconds,
// one less than the lifetime (899 for 15 minutes), since the token was made a moment
// before the answer arrives.
func expiresIn(ttl time.Duration) int32 {
	return int32(ttl.Seconds()) - 1
}

// tokenForm returns the decoded token form, whichever of the two content types it came in.
func tokenForm(call *oauthCall, req gen.IssueTokenRequestObject) (*gen.TokenRequest, *oauthError) {
	if e := call.check(); e != nil {
		return nil, e
	}
	switch {
	case req.FormdataBody != nil:
		return req.FormdataBody, nil
	case req.MultipartBody != nil:
		var form gen.TokenRequest
		if e := readMultipartForm(req.MultipartBody, &form); e != nil {
			return nil, e
		}
		return &form, nil
	}
	return nil, invalidRequest("the body must be application/x-www-form-urlencoded or multipart/form-data")
}

// issued is a new token pair, in clear: it exists only on its way to the caller.
type issued struct {
	access, refresh string
	session         *core.Session // the session the pair belongs to, for the audit log
}

// newSession returns a session for the principal with fresh tokens.
func (s *Server) newSession(userID, clientID string) (*core.Session, *issued) {
	now := s.now()
	// Time-ordered ID and tokens: the session's index entries go in at the end of each
	// index, which keeps a durable commit of many logins small (see core.NewOrderedID).
	t := &issued{access: core.NewSessionToken(now), refresh: core.NewSessionToken(now)}
	id := core.NewOrderedID(now)
	t.session = &core.Session{
		ID:               id,
		FamilyID:         id,
		UserID:           userID,
		ClientID:         clientID,
		AccessHash:       core.HashToken(t.access),
		RefreshHash:      core.HashToken(t.refresh),
		AccessExpiresAt:  now.Add(s.accessTTL),
		RefreshExpiresAt: now.Add(s.refreshTTL),
		CreatedAt:        now,
	}
	return t.session, t
}

func (s *Server) passwordGrant(ctx context.Context, call *oauthCall, form *gen.TokenRequest) (*issued, error) {
	if _, _, present, e := call.clientCredentials(value(form.ClientId), value(form.ClientSecret)); e != nil {
		return nil, e
	} else if present {
		return nil, &oauthError{code: "unauthorized_client", description: "client accounts use the client_credentials grant"}
	}
	name, password := value(form.Username), value(form.Password)
	if name == "" || password == "" {
		return nil, invalidRequest("username and password are required")
	}
	user, err := s.authenticateUser(ctx, name, password)
	if err != nil {
		return nil, err
	}
	session, tokens := s.newSession(user.ID, "")
	if err := s.store.CreateSession(ctx, session, s.singleSession); err != nil {
		return nil, s.grantStoreError(err)
	}
	return tokens, nil
}

// authenticateUser returns the user name and password identify; an unknown name costs
// as much time as a wrong password.
func (s *Server) authenticateUser(ctx context.Context, name, password string) (found *core.User, ferr error) {
	att, wait := s.limits.admit(userAccount(name), oauthCallFrom(ctx).remoteIP, true)
	if wait > 0 {
		return nil, tooManyFailures(wait)
	}
	defer func() { att.settle(found != nil && ferr == nil, wrongCredentials(ferr)) }()
	wrong := invalidGrant("the username or password is incorrect")
	if core.ValidateUserName(name) != nil || len(password) > 1024 {
		return nil, wrong.because(reasonMalformed)
	}
	user, err := s.store.FindUserByName(ctx, name)
	hash := s.dummyHash
	switch code := core.ErrorCode(err); {
	case code == core.ENOTFOUND:
		user = nil
	case err != nil:
		return nil, err
	default:
		hash = user.PasswordHash
	}
	ok, err := s.verifyPassword(ctx, password, hash)
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, err
	case err != nil:
		s.log.ErrorContext(ctx, "stored password hash is malformed", "user_id", user.ID)
		return nil, wrong.because(reasonBadPassword, slog.String("user_id", user.ID))
	case user == nil:
		return nil, wrong.because(reasonUnknownUser)
	case !ok:
		return nil, wrong.because(reasonBadPassword, slog.String("user_id", user.ID))
	case user.Disabled:
		return nil, invalidGrant("the account is disabled").because(reasonUserDisabled, slog.String("user_id", user.ID))
	}
	return user, nil
}

func (s *Server) clientCredentialsGrant(ctx context.Context, call *oauthCall, form *gen.TokenRequest) (*issued, error) {
	client, err := s.authenticateClient(ctx, call, value(form.ClientId), value(form.ClientSecret))
	if err != nil {
		return nil, err
	}
	if client == nil {
		return nil, &oauthError{code: "invalid_client", description: "client_id and client_secret are required", reason: reasonMissing}
	}
	session, tokens := s.newSession(client.UserID, client.ID)
	if err := s.store.CreateSession(ctx, session, s.singleSession); err != nil {
		return nil, s.grantStoreError(err)
	}
	return tokens, nil
}

// authenticateClient returns the client that the request's credentials identify, nil
// if the request carries none, or an invalid_client error.
func (s *Server) authenticateClient(ctx context.Context, call *oauthCall, formID, formSecret string) (found *core.Client, ferr error) {
	id, secret, present, e := call.clientCredentials(formID, formSecret)
	if e != nil || !present {
		return nil, errorOrNil(e)
	}
	att, wait := s.limits.admit(clientAccount(id), call.remoteIP, false)
	if wait > 0 {
		return nil, tooManyFailures(wait)
	}
	defer func() { att.settle(found != nil && ferr == nil, wrongCredentials(ferr)) }()
	failed := &oauthError{code: "invalid_client", description: "client authentication failed", basic: call.basic}
	id, err := core.ParseID(id)
	if err != nil || secret == "" {
		return nil, failed.because(reasonMalformed)
	}
	client, err := s.findClient(ctx, id)
	switch {
	case core.ErrorCode(err) == core.ENOTFOUND:
		s.secrets.Equal(secret, nil) // as long as a real check
		return nil, failed.because(reasonUnknownClient, slog.String("client_id", id))
	case err != nil:
		return nil, err
	case !s.secrets.Equal(secret, client.SecretHash):
		return nil, failed.because(reasonBadSecret, slog.String("client_id", id), slog.String("user_id", client.UserID))
	case client.Owner != nil && client.Owner.Disabled:
		return nil, (&oauthError{code: "unauthorized_client", description: "the user who owns this client is disabled"}).
			because(reasonUserDisabled, slog.String("client_id", id), slog.String("user_id", client.UserID))
	}
	return client, nil
}

// errorOrNil avoids returning a typed nil *oauthError as a non-nil error.
func errorOrNil(e *oauthError) error {
	if e == nil {
		return nil
	}
	return e
}

func (s *Server) refreshGrant(ctx context.Context, call *oauthCall, form *gen.TokenRequest) (*issued, error) {
	refresh := value(form.RefreshToken)
	if refresh == "" {
		return nil, invalidRequest("refresh_token is required")
	}
	// RFC 6749 §6: a client that authenticates may refresh only its own tokens.
	client, err := s.authenticateClient(ctx, call, value(form.ClientId), value(form.ClientSecret))
	if err != nil {
		return nil, err
	}
	hash := core.HashToken(refresh)
	if client != nil {
		old, err := s.store.FindSessionByToken(ctx, hash)
		if err == nil && old.ClientID != client.ID {
			return nil, invalidGrant("the refresh token was not issued to this client").because(reasonWrongClient, slog.String("client_id", client.ID))
		}
	}
	next, tokens := s.newSession("", "")
	_, err = s.store.RotateSession(ctx, hash, next, s.singleSession)
	switch core.ErrorCode(err) {
	case "":
	case core.EREUSED:
		return nil, invalidGrant("the refresh token was already used; the session has been ended").because(reasonRefreshReused)
	case core.ENOTFOUND:
		return nil, invalidGrant("the refresh token is invalid or has expired").because(reasonInvalidToken)
	default:
		return nil, err
	}
	return tokens, nil
}

// grantStoreError maps a store failure while issuing tokens: the principal vanished
// between authentication and the write (deleted concurrently) is an invalid grant.
func (s *Server) grantStoreError(err error) error {
	if core.ErrorCode(err) == core.ENOTFOUND {
		return invalidGrant("the account no longer exists").because(reasonAccountGone)
	}
	return err
}
