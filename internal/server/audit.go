package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/vroauth/vroauth/auth"
	"github.com/vroauth/vroauth/internal/core"
)

// Audit events are log lines with audit=true and a stable event name, one per
// security-relevant act, so that they can be selected, shipped and alerted on apart
// from the rest of the log. Their fields name accounts by ID (and users by name where
// the account is known to exist); never a secret, a token, a password, or a user name
// that failed to match (it may be a password typed in the wrong field).
const (
	EventLoginSuccess        = "login.success"        // a password or client_credentials grant issued tokens
	EventLoginFailure        = "login.failure"        // a grant refused the caller's credentials; reason says why
	EventTokenRefresh        = "token.refresh"        // a refresh token was spent for a new pair
	EventRefreshReuse        = "token.refresh_reused" // a spent refresh token came back: its session family was revoked
	EventLogout              = "session.logout"       // POST /api/logout ended the caller's session
	EventTokenRevoked        = "token.revoked"        // POST /api/revoke ended a session
	EventRevokeRefused       = "token.revoke_refused" // POST /api/revoke refused the client's credentials
	EventClientCreated       = "client.created"
	EventClientDeleted       = "client.deleted"
	EventUserAdded           = "user.added"
	EventUserDisabled        = "user.disabled"
	EventUserEnabled         = "user.enabled"
	EventUserDeleted         = "user.deleted"
	EventUserRoleChanged     = "user.role_changed"
	EventUserPasswordChanged = "user.password_changed"
)

// The reasons of failed authentications, in login.failure events and in the
// vroauth_auth_failures_total{reason} metric.
const (
	reasonMalformed     = "malformed_credentials" // not even well-formed: a bad user name, client ID or Basic header
	reasonMissing       = "missing_credentials"   // client_credentials without a client
	reasonUnknownUser   = "unknown_user"
	reasonBadPassword   = "bad_password"
	reasonUserDisabled  = "user_disabled" // the user, or the owner of the client, is disabled
	reasonUnknownClient = "unknown_client"
	reasonBadSecret     = "bad_secret"
	reasonInvalidToken  = "invalid_token"  // unknown, expired or revoked token
	reasonRefreshReused = "refresh_reused" // a spent refresh token
	reasonWrongClient   = "wrong_client"   // a refresh token or revocation of another client's token
	reasonAccountGone   = "account_gone"   // deleted between authentication and the write
	reasonMalformedAuth = "malformed_token"
	reasonRateLimited   = "rate_limited" // refused unchecked: too many failures of late
)

// Audit writes an audit event to log at level: a line whose message is the event
// name, with audit=true, event=event and attrs.
func Audit(ctx context.Context, log *slog.Logger, level slog.Level, event string, attrs ...slog.Attr) {
	if !log.Enabled(ctx, level) {
		return
	}
	all := make([]slog.Attr, 0, len(attrs)+2)
	all = append(all, slog.Bool("audit", true), slog.String("event", event))
	log.LogAttrs(ctx, level, event, append(all, attrs...)...)
}

// sessionAttrs names the accounts of a session.
func sessionAttrs(s *core.Session) []slog.Attr {
	attrs := []slog.Attr{slog.String("user_id", s.UserID)}
	if s.ClientID != "" {
		attrs = append(attrs, slog.String("client_id", s.ClientID))
	}
	return append(attrs, slog.String("session_id", s.FamilyID))
}

// principalAttrs names the caller.
func principalAttrs(p *auth.Principal) []slog.Attr {
	return []slog.Attr{slog.String("principal_kind", string(p.Kind)), slog.String("principal_id", p.ID), slog.String("user_id", p.UserID)}
}

// auditGrant records the outcome of a token request: the tokens it issued (session)
// or the authentication it refused (e, when it has a reason).
func (s *Server) auditGrant(ctx context.Context, call *oauthCall, grant string, session *core.Session, e *oauthError) {
	ip := slog.String("remote_ip", call.remoteIP)
	if e != nil {
		reason := failureReason(e)
		if reason == "" { // a malformed request, not a refused authentication
			return
		}
		s.metrics.authFailed.WithLabelValues(grant, reason).Inc()
		attrs := append([]slog.Attr{slog.String("grant_type", grant), slog.String("reason", reason), ip}, e.subject...)
		if reason == reasonRefreshReused {
			Audit(ctx, s.log, slog.LevelWarn, EventRefreshReuse, attrs...)
			return
		}
		Audit(ctx, s.log, slog.LevelWarn, EventLoginFailure, attrs...)
		return
	}
	s.metrics.tokens.WithLabelValues(grant).Inc()
	attrs := append([]slog.Attr{slog.String("grant_type", grant), ip}, sessionAttrs(session)...)
	if grant == methodRefreshToken {
		Audit(ctx, s.log, slog.LevelInfo, EventTokenRefresh, attrs...)
		return
	}
	Audit(ctx, s.log, slog.LevelInfo, EventLoginSuccess, attrs...)
}

// countBearerFailure counts a refused access token on a protected route. A request
// that carries no credentials at all is a challenge, not a failure.
func (s *Server) countBearerFailure(e *auth.Error) {
	if e.Status != 401 {
		return
	}
	switch {
	case errors.Is(e.Err, auth.ErrInvalidToken):
		s.metrics.authFailed.WithLabelValues(methodBearer, reasonInvalidToken).Inc()
	case strings.Contains(e.Challenge, `error="invalid_token"`): // a malformed Authorization header
		s.metrics.authFailed.WithLabelValues(methodBearer, reasonMalformedAuth).Inc()
	}
}

// because returns a copy of e that records why an authentication was refused, and
// the account concerned if known.
func (e *oauthError) because(reason string, subject ...slog.Attr) *oauthError {
	c := *e
	c.reason, c.subject = reason, subject
	return &c
}

// auditRevokeRefused records a revocation refused for the client's credentials.
func (s *Server) auditRevokeRefused(ctx context.Context, call *oauthCall, e *oauthError) {
	reason := failureReason(e)
	if reason == "" {
		return
	}
	s.metrics.authFailed.WithLabelValues(methodRevoke, reason).Inc()
	Audit(ctx, s.log, slog.LevelWarn, EventRevokeRefused,
		append([]slog.Attr{slog.String("reason", reason), slog.String("remote_ip", call.remoteIP)}, e.subject...)...)
}

// failureReason is why e refused an authentication, or "" if it did not.
func failureReason(e *oauthError) string {
	if e.reason == "" && e.retryAfter > 0 {
		return reasonRateLimited
	}
	return e.reason
}
