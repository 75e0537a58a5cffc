package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"

	"github.com/vroauth/vroauth/auth"
	"github.com/vroauth/vroauth/gen"
	"github.com/vroauth/vroauth/internal/core"
)

// errNoPrincipal means a protected operation ran without the bearer middleware: a
// wiring bug, answered with 500.
var errNoPrincipal = errors.New("server: no principal in the request context")

// Verify implements auth.Verifier: it returns the principal of a live access token,
// with the role of its user read live. A token verified before is answered from the
// cache while the store's revision shows that nothing was revoked since
// (verifycache.go).
func (s *Server) Verify(ctx context.Context, token string) (*auth.Principal, error) {
	key := core.TokenKey(token)
	rev, cacheable := s.cache.revision(ctx)
	if cacheable {
		if p := s.cache.principal(key, rev); p != nil {
			s.known.confirm(key) // the revision check confirmed it: see fallback.go
			return p, nil
		}
	}
	session, err := s.findSessionByAccess(ctx, bytes.Clone(key[:])) // a copy: key stays on the stack
	switch {
	case core.ErrorCode(err) == core.ENOTFOUND:
		return nil, auth.ErrInvalidToken
	case err != nil:
		return nil, err
	}
	p := principal(session)
	if cacheable {
		s.cache.putPrincipal(key, rev, p, session.AccessExpiresAt)
	}
	return p, nil
}

func principal(s *core.Session) *auth.Principal {
	p := &auth.Principal{Kind: auth.KindUser, ID: s.UserID, UserID: s.UserID, SessionID: s.FamilyID}
	if s.ClientID != "" {
		p.Kind, p.ID = auth.KindClient, s.ClientID
	}
	if s.User != nil {
		p.Username, p.Role = s.User.Name, auth.Role(s.User.Role)
	}
	return p
}

// Logout implements POST /api/logout: the caller's session (its whole refresh chain)
// ends at once.
func (s *Server) Logout(ctx context.Context, _ gen.LogoutRequestObject) (gen.LogoutResponseObject, error) {
	p, _ := auth.FromContext(ctx)
	if p == nil {
		return nil, errNoPrincipal
	}
	if err := s.store.RevokeFamily(ctx, p.SessionID); err != nil {
		return nil, err
	}
	s.known.forgetFamily(p.SessionID)
	Audit(ctx, s.log, slog.LevelInfo, EventLogout, append(principalAttrs(p), slog.String("session_id", p.SessionID))...)
	return gen.Logout204Response{}, nil
}

// RevokeToken implements POST /api/revoke (RFC 7009). Revoking either token of a pair
// ends its session family. An unknown token is answered as a revoked one.
func (s *Server) RevokeToken(ctx context.Context, req gen.RevokeTokenRequestObject) (gen.RevokeTokenResponseObject, error) {
	call := oauthCallFrom(ctx)
	if e := call.check(); e != nil {
		return e.revokeResponse(), nil
	}
	if req.Body == nil {
		return invalidRequest("the body must be application/x-www-form-urlencoded").revokeResponse(), nil
	}
	if req.Body.Token == "" {
		return invalidRequest("the token parameter is required").revokeResponse(), nil
	}
	client, err := s.authenticateClient(ctx, call, value(req.Body.ClientId), value(req.Body.ClientSecret))
	if oerr, ok := err.(*oauthError); ok {
		s.auditRevokeRefused(ctx, call, oerr)
		return oerr.revokeResponse(), nil
	} else if err != nil {
		return nil, err
	}
	session, err := s.store.FindSessionByToken(ctx, core.HashToken(req.Body.Token))
	switch code := core.ErrorCode(err); {
	case code == core.ENOTFOUND:
		return revoked(), nil
	case err != nil:
		return nil, err
	case client != nil && session.ClientID != client.ID:
		oerr := (&oauthError{code: "unauthorized_client", description: "the token was not issued to this client"}).
			because(reasonWrongClient, slog.String("client_id", client.ID))
		s.auditRevokeRefused(ctx, call, oerr)
		return oerr.revokeResponse(), nil
	}
	if err := s.store.RevokeFamily(ctx, session.FamilyID); err != nil {
		return nil, err
	}
	s.known.forgetFamily(session.FamilyID)
	Audit(ctx, s.log, slog.LevelInfo, EventTokenRevoked, append(sessionAttrs(session), slog.String("remote_ip", call.remoteIP))...)
	return revoked(), nil
}

func revoked() gen.RevokeToken200Response {
	return gen.RevokeToken200Response{Headers: gen.RevokeToken200ResponseHeaders{CacheControl: "no-store", Pragma: "no-cache"}}
}
