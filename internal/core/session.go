package core

import (
	"context"
	"time"
)

// Session is one access/refresh token pair. Each refresh ends the pair's refresh token
// and starts a new pair in the same family; a family is what a person calls a session,
// and logout, revocation and refresh-token reuse end a whole family.
type Session struct {
	ID               string // random, assigned by the server
	FamilyID         string // the ID of the first session of the refresh chain
	UserID           string // the user, or the owner of the client
	ClientID         string // the client account; "" for a user's own session
	AccessHash       []byte // HashToken of the access token
	RefreshHash      []byte // HashToken of the refresh token
	AccessExpiresAt  time.Time
	RefreshExpiresAt time.Time
	CreatedAt        time.Time

	// User is the user (or the client's owner), filled in by the Find and Rotate methods
	// so that the caller's role is read live; nil elsewhere.
	User *User
}

// SessionStore stores sessions. Times are compared with the store's clock.
type SessionStore interface {
	// CreateSession stores s (s.FamilyID is usually s.ID). When exclusive is true, every
	// other family of the same principal (the same user without a client, or the same
	// client) ends in the same transaction. ENOTFOUND if the user or client is gone.
	CreateSession(ctx context.Context, s *Session, exclusive bool) error
	// FindSessionByAccess returns the live session whose access token hashes to hash,
	// with its User. ENOTFOUND if the token is unknown, expired or revoked, or if its user
	// is disabled.
	FindSessionByAccess(ctx context.Context, hash []byte) (*Session, error)
	// RotateSession spends the refresh token that hashes to refreshHash and stores next
	// in its place, in one transaction: next gets the family, user and client of the
	// spent session, and the spent session is returned with its User. A refresh token
	// can be spent once: presenting a spent one ends its whole family and returns
	// EREUSED. ENOTFOUND if the token is unknown, expired or revoked, or the user is
	// disabled. When exclusive is true, other families of the principal end too.
	RotateSession(ctx context.Context, refreshHash []byte, next *Session, exclusive bool) (*Session, error)
	// FindSessionByToken returns the session whose access or refresh token hashes to
	// hash, spent or not, expired or not (for revocation). ENOTFOUND if none.
	FindSessionByToken(ctx context.Context, hash []byte) (*Session, error)
	// RevokeFamily ends every session of the family. Ending a family that does not
	// exist is not an error.
	RevokeFamily(ctx context.Context, familyID string) error
	// PurgeExpired deletes the sessions whose refresh token expired before the store's
	// clock and returns how many it deleted.
	PurgeExpired(ctx context.Context) (int, error)
	// CountSessions returns how many sessions are live by the store's clock: families
	// whose newest refresh token is unspent and unexpired (an expired access token
	// does not end a session). It reads an index, not every row's user.
	CountSessions(ctx context.Context) (int, error)
}
