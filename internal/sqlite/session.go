package sqlite

import (
	"context"
	"database/sql"

	"github.com/vroauth/vroauth/internal/core"
)

// sessionColumns are the columns scanSession reads, of the sessions table aliased s
// joined with its user aliased u; the last session column says whether it is spent.
const sessionColumns = `s.id, s.family_id, s.user_id, s.client_id, s.access_hash, s.refresh_hash,
	s.access_expires_at, s.refresh_expires_at, s.created_at, s.refreshed_at IS NOT NULL, ` + userColumns

// The session lookups: each is one query on a unique index, joined with the user.
const (
	findSessionByAccess = `SELECT ` + sessionColumns + ` FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.access_hash = ? AND s.access_expires_at > ? AND u.disabled = 0`
	findSessionByRefresh = `SELECT ` + sessionColumns + ` FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.refresh_hash = ?`
	findSessionByToken = `SELECT ` + sessionColumns + ` FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.access_hash = ? OR s.refresh_hash = ?`
)

// purgeBatch is how many sessions PurgeExpired deletes per transaction, so that it
// never holds the write lock for long.
const purgeBatch = 1000

// errSessionNotFound is the answer for a token that is unknown, expired or revoked.
var errSessionNotFound = core.Errorf(core.ENOTFOUND, "the token is unknown, expired or revoked")

// CreateSession stores s, setting s.CreatedAt, and s.FamilyID to s.ID if it is empty.
// When exclusive is true, every other family of the same principal (the user without
// a client, or the client) ends in the same transaction. ENOTFOUND if the user or
// client does not exist, or the user is disabled.
func (db *DB) CreateSession(ctx context.Context, s *core.Session, exclusive bool) error {
	write := db.update
	if !exclusive {
		write = db.updateOne // one INSERT
	}
	err := write(ctx, func(tx *tx) error { return createSession(ctx, tx, s, exclusive) })
	return refine(formatError("create session", err), core.ENOTFOUND, "the user or client of the session is gone")
}

func createSession(ctx context.Context, tx *tx, s *core.Session, exclusive bool) error {
	if s.FamilyID == "" {
		s.FamilyID = s.ID
	}
	if err := insertSession(ctx, tx, s); err != nil || !exclusive {
		return err
	}
	return endOtherFamilies(ctx, tx, s)
}

// insertSession stores s if its user exists and is enabled; the foreign key to the
// client checks that the client exists and belongs to the user.
func insertSession(ctx context.Context, tx *tx, s *core.Session) error {
	var clientID any
	if s.ClientID != "" {
		clientID = s.ClientID
	}
	err := oneRow(tx.ExecContext(ctx, `
		INSERT INTO sessions (id, family_id, user_id, client_id, access_hash, refresh_hash,
			access_expires_at, refresh_expires_at, created_at)
		SELECT ?, ?, id, ?, ?, ?, ?, ?, ? FROM users WHERE id = ? AND disabled = 0`,
		s.ID, s.FamilyID, clientID, s.AccessHash, s.RefreshHash,
		millis(s.AccessExpiresAt), millis(s.RefreshExpiresAt), millis(tx.now), s.UserID))
	if err == nil {
		s.CreatedAt = tx.now
	}
	return err
}

// endOtherFamilies ends every family of s's principal but s's own.
func endOtherFamilies(ctx context.Context, tx *tx, s *core.Session) error {
	var err error
	if s.ClientID == "" {
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND client_id IS NULL AND family_id <> ?`,
			s.UserID, s.FamilyID)
	} else {
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE client_id = ? AND family_id <> ?`, s.ClientID, s.FamilyID)
	}
	return err
}

// FindSessionByAccess returns the live session whose access token hashes to hash,
// with its User, in one query. ENOTFOUND if the token is unknown, expired or revoked,
// or if its user is disabled.
func (db *DB) FindSessionByAccess(ctx context.Context, hash []byte) (*core.Session, error) {
	s, _, err := scanSession(reader{db.read}.QueryRowContext(ctx, findSessionByAccess, hash, millis(db.clock())))
	if err != nil {
		return nil, refine(formatError("find session by access token", err), core.ENOTFOUND, "%s", errSessionNotFound.Message)
	}
	return s, nil
}

// FindSessionByToken returns the session whose access or refresh token hashes to hash,
// spent or not, expired or not, with its User. ENOTFOUND if none.
func (db *DB) FindSessionByToken(ctx context.Context, hash []byte) (*core.Session, error) {
	s, _, err := scanSession(reader{db.read}.QueryRowContext(ctx, findSessionByToken, hash, hash))
	if err != nil {
		return nil, refine(formatError("find session by token", err), core.ENOTFOUND, "the token is unknown")
	}
	return s, nil
}

// RotateSession spends the refresh token that hashes to refreshHash and stores next
// in its place, in one transaction: next gets the family, user and client of the spent
// session, and the spent session is returned with its User. Presenting a spent token
// ends its whole family and returns EREUSED. ENOTFOUND if the token is unknown,
// expired or revoked, or the user is disabled. When exclusive is true, other families
// of the principal end too.
func (db *DB) RotateSession(ctx context.Context, refreshHash []byte, next *core.Session, exclusive bool) (*core.Session, error) {
	var (
		spent  *core.Session
		reused bool
	)
	err := db.update(ctx, func(tx *tx) (err error) {
		spent, reused, err = rotateSession(ctx, tx, refreshHash, next, exclusive)
		return err
	})
	switch {
	case err != nil:
		return nil, refine(formatError("rotate session", err), core.ENOTFOUND, "%s", errSessionNotFound.Message)
	case reused:
		return nil, core.Errorf(core.EREUSED, "the refresh token was used before; its session has ended")
	}
	return spent, nil
}

// rotateSession does the work of RotateSession. A reuse ends the family and reports
// reused with a nil error, so that the ending commits.
func rotateSession(ctx context.Context, tx *tx, refreshHash []byte, next *core.Session, exclusive bool) (*core.Session, bool, error) {
	s, spent, err := scanSession(tx.QueryRowContext(ctx, findSessionByRefresh, refreshHash))
	switch {
	case err != nil:
		return nil, false, err
	case spent:
		return nil, true, revokeFamily(ctx, tx, s.FamilyID)
	case !tx.now.Before(s.RefreshExpiresAt) || s.User.Disabled:
		return nil, false, errSessionNotFound
	}
	if err := oneRow(tx.ExecContext(ctx, `UPDATE sessions SET refreshed_at = ? WHERE id = ? AND refreshed_at IS NULL`,
		millis(tx.now), s.ID)); err != nil {
		return nil, false, err
	}
	next.FamilyID, next.UserID, next.ClientID = s.FamilyID, s.UserID, s.ClientID
	if err := createSession(ctx, tx, next, exclusive); err != nil {
		return nil, false, err
	}
	return s, false, nil
}

// RevokeFamily ends every session of the family. Ending a family that does not exist
// is not an error.
func (db *DB) RevokeFamily(ctx context.Context, familyID string) error {
	err := db.updateOne(ctx, func(tx *tx) error { return revokeFamily(ctx, tx, familyID) })
	return formatError("revoke session family", err)
}

func revokeFamily(ctx context.Context, tx *tx, familyID string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE family_id = ?`, familyID)
	return err
}

// deleteUserSessions ends every session of the user and of its clients.
func deleteUserSessions(ctx context.Context, tx *tx, userID string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	return err
}

// PurgeExpired deletes the sessions whose refresh token has expired by the store's
// clock, in batches of purgeBatch per transaction, and returns how many it deleted.
func (db *DB) PurgeExpired(ctx context.Context) (int, error) {
	total := 0
	for {
		var n int64
		err := db.update(ctx, func(tx *tx) (err error) {
			n, err = purgeExpired(ctx, tx, purgeBatch)
			return err
		})
		if err != nil {
			return total, formatError("purge expired sessions", err)
		}
		total += int(n)
		if n < purgeBatch {
			return total, nil
		}
	}
}

func purgeExpired(ctx context.Context, tx *tx, limit int) (int64, error) {
	res, err := tx.ExecContext(ctx, `
		DELETE FROM sessions WHERE rowid IN (
			SELECT rowid FROM sessions WHERE refresh_expires_at <= ? LIMIT ?)`, millis(tx.now), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// scanSession reads the sessionColumns of a row: the session with its User, and
// whether its refresh token is spent.
func scanSession(sc scanner) (*core.Session, bool, error) {
	var (
		s                              core.Session
		u                              core.User
		clientID                       sql.NullString
		accessExp, refreshExp, created int64
		spent                          bool
		userCreated, userUpdated       int64
	)
	err := sc.Scan(&s.ID, &s.FamilyID, &s.UserID, &clientID, &s.AccessHash, &s.RefreshHash,
		&accessExp, &refreshExp, &created, &spent,
		&u.ID, &u.Name, &u.PasswordHash, &u.Role, &u.Disabled, &userCreated, &userUpdated)
	if err != nil {
		return nil, false, err
	}
	s.ClientID = clientID.String
	s.AccessExpiresAt, s.RefreshExpiresAt, s.CreatedAt = fromMillis(accessExp), fromMillis(refreshExp), fromMillis(created)
	u.CreatedAt, u.UpdatedAt = fromMillis(userCreated), fromMillis(userUpdated)
	s.User = &u
	return &s, spent, nil
}

// CountSessions returns how many sessions are live by the store's clock: families
// whose newest refresh token is unspent and unexpired. It reads the index on
// refresh_expires_at.
func (db *DB) CountSessions(ctx context.Context) (int, error) {
	var n int
	err := reader{db.read}.QueryRowContext(ctx,
		`SELECT count(*) FROM sessions WHERE refresh_expires_at > ? AND refreshed_at IS NULL`, millis(db.clock())).Scan(&n)
	return n, formatError("count sessions", err)
}
