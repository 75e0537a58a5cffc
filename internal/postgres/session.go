package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vroauth/vroauth/internal/core"
)

// Locks. Every session writer first locks the session's user, then its client, then
// touches session rows; UpdateUser, DeleteUser and DeleteClient lock the same parents
// (by their UPDATE or DELETE) before they reach sessions. With one order there is no
// deadlock, such as a rotation holding the spent row while waiting for its client
// whose deletion waits for that row. The strengths:
//   - the user FOR SHARE: UpdateUser (FOR NO KEY UPDATE) and DeleteUser wait for the
//     writers in flight, so the sessions they end include every one just made, and a
//     writer that waits for them reads the user as changed;
//   - the client FOR KEY SHARE: DeleteClient waits likewise;
//   - the principal (the user for its own sessions, else the client) FOR NO KEY UPDATE
//     when exclusive, so that exclusive logins of one principal run one at a time and
//     each sees, and ends, the family the previous one made.
//
// RevokeFamily takes no parent lock; a rotation inside the family may insert a row its
// DELETE cannot see, so it repeats the DELETE until it finds nothing (revokeFamily).

// sessionColumns are the columns scanSession reads, from the sessions table aliased s,
// followed by the userColumns of its user.
const sessionColumns = `s.id, s.family_id, s.user_id, COALESCE(s.client_id, ''), s.access_hash, s.refresh_hash,
	s.access_expires_at, s.refresh_expires_at, s.created_at, ` + userColumns

// purgeBatch is how many sessions PurgeExpired deletes per statement, so that no
// statement holds many locks for long (distributed engines also cap the size of a
// transaction).
const purgeBatch = 1000

// The answers for a token that is not found.
const (
	msgTokenNotFound   = "the token is unknown, expired or revoked"
	msgSessionNotFound = "the user or client of the session is gone or disabled"
)

// errNotSpendable is what rotateSession returns when the refresh token cannot be
// spent; RotateSession then tells reuse from an unknown token.
var errNotSpendable = errors.New("postgres: refresh token not spendable")

// CreateSession stores s, setting s.CreatedAt, s.FamilyID to s.ID if it is empty, and
// its expiry times to the stored precision. When exclusive is true, every other family
// of the same principal (the same user without a client, or the same client) ends in
// the same transaction. ENOTFOUND if the user or client does not exist, the client
// belongs to another user, or the user is disabled.
func (db *DB) CreateSession(ctx context.Context, s *core.Session, exclusive bool) error {
	now := db.clock()
	var err error
	if exclusive {
		err = db.inTx(ctx, func(tx pgx.Tx) error { return createSession(ctx, tx, s, true, now) })
	} else {
		err = createSession(ctx, db.pool, s, false, now) // one batch, an implicit transaction
	}
	return refine(err, core.ENOTFOUND, msgSessionNotFound)
}

// createSession locks the owners of s, inserts s and, if exclusive, ends the other
// families of its principal. When exclusive, q must be a transaction.
func createSession(ctx context.Context, q dbtx, s *core.Session, exclusive bool, now time.Time) error {
	if s.FamilyID == "" {
		s.FamilyID = s.ID
	}
	s.CreatedAt = now
	s.AccessExpiresAt, s.RefreshExpiresAt = stored(s.AccessExpiresAt), stored(s.RefreshExpiresAt)
	if err := insertSession(ctx, q, s, exclusive); err != nil || !exclusive {
		return err
	}
	return endOtherFamilies(ctx, q, s)
}

// insertSession sends, in one batch, the owner locks and the insert of s, which
// stores nothing unless the user exists and is enabled. ENOTFOUND if it stored nothing.
func insertSession(ctx context.Context, q dbtx, s *core.Session, exclusive bool) error {
	b := &pgx.Batch{}
	queueLockOwners(b, s.UserID, s.ClientID, exclusive)
	b.Queue(`
		INSERT INTO sessions (id, family_id, user_id, client_id, access_hash, refresh_hash,
			access_expires_at, refresh_expires_at, created_at)
		SELECT $1, $2, u.id, NULLIF($4, ''), $5, $6, $7, $8, $9 FROM users u WHERE u.id = $3 AND NOT u.disabled`,
		s.ID, s.FamilyID, s.UserID, s.ClientID, s.AccessHash, s.RefreshHash,
		s.AccessExpiresAt, s.RefreshExpiresAt, s.CreatedAt)
	br := q.SendBatch(ctx, b)
	defer br.Close()
	tag, err := execLast(br, b.Len())
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() == 0 {
		return core.Errorf(core.ENOTFOUND, msgSessionNotFound)
	}
	return nil
}

// execLast reads the n results of a batch of statements that return nothing the
// caller needs, and returns the last one's command tag.
func execLast(br pgx.BatchResults, n int) (tag pgconn.CommandTag, err error) {
	for range n {
		if tag, err = br.Exec(); err != nil {
			return tag, err
		}
	}
	return tag, br.Close()
}

// queueLockOwners queues the locks of a session's user and client (see Locks).
func queueLockOwners(b *pgx.Batch, userID, clientID string, exclusive bool) {
	lockUser, lockClient := `SELECT 1 FROM users WHERE id = $1 FOR SHARE`, `SELECT 1 FROM clients WHERE id = $1 FOR KEY SHARE`
	if exclusive && clientID == "" {
		lockUser = `SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`
	} else if exclusive {
		lockClient = `SELECT 1 FROM clients WHERE id = $1 FOR NO KEY UPDATE`
	}
	b.Queue(lockUser, userID)
	if clientID != "" {
		b.Queue(lockClient, clientID)
	}
}

// endOtherFamilies ends every family of s's principal but s's own.
func endOtherFamilies(ctx context.Context, q dbtx, s *core.Session) error {
	var err error
	if s.ClientID != "" {
		_, err = q.Exec(ctx, `DELETE FROM sessions WHERE client_id = $1 AND family_id <> $2`, s.ClientID, s.FamilyID)
	} else {
		_, err = q.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND client_id IS NULL AND family_id <> $2`,
			s.UserID, s.FamilyID)
	}
	return formatError(err)
}

// FindSessionByAccess returns the live session whose access token hashes to hash,
// with its User, in one query. ENOTFOUND if the token is unknown, expired or revoked,
// or if its user is disabled. The access token of a pair whose refresh token was
// spent stays live until it expires.
func (db *DB) FindSessionByAccess(ctx context.Context, hash []byte) (*core.Session, error) {
	row := db.pool.QueryRow(ctx, `
		SELECT `+sessionColumns+`
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.access_hash = $1 AND s.access_expires_at > $2 AND NOT u.disabled`,
		hash, db.clock())
	s, err := scanSession(row)
	if err != nil {
		return nil, refine(formatError(err), core.ENOTFOUND, msgTokenNotFound)
	}
	return s, nil
}

// FindSessionByToken returns the session whose access or refresh token hashes to
// hash, spent or not, expired or not, with its User. ENOTFOUND if none.
func (db *DB) FindSessionByToken(ctx context.Context, hash []byte) (*core.Session, error) {
	row := db.pool.QueryRow(ctx, `
		SELECT `+sessionColumns+`
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.access_hash = $1 OR s.refresh_hash = $1
		LIMIT 1`, hash)
	s, err := scanSession(row)
	if err != nil {
		return nil, refine(formatError(err), core.ENOTFOUND, "the token is unknown")
	}
	return s, nil
}

// RotateSession spends the refresh token that hashes to refreshHash and stores next in
// its place, in one transaction: next gets the family, user and client of the spent
// session, and the spent session is returned with its User. The token is spent by a
// conditional UPDATE, so of any number of concurrent rotations, in any number of
// processes, exactly one succeeds. Presenting a spent token ends its whole family and
// returns EREUSED. ENOTFOUND if the token is unknown, expired or revoked, or the user
// is disabled. When exclusive is true, other families of the principal end too.
func (db *DB) RotateSession(ctx context.Context, refreshHash []byte, next *core.Session, exclusive bool) (*core.Session, error) {
	var spent *core.Session
	now := db.clock()
	err := db.inTx(ctx, func(tx pgx.Tx) (err error) {
		spent, err = rotateSession(ctx, tx, refreshHash, next, exclusive, now)
		return err
	})
	switch {
	case errors.Is(err, errNotSpendable):
		return nil, endReusedFamily(ctx, db.pool, refreshHash)
	case err != nil:
		return nil, refine(err, core.ENOTFOUND, msgTokenNotFound)
	}
	return spent, nil
}

// rotateSession locks the owners of the session of refreshHash, spends its refresh
// token, and stores next in the same family. errNotSpendable if the token is unknown,
// spent, expired, or its user disabled.
func rotateSession(ctx context.Context, tx pgx.Tx, refreshHash []byte, next *core.Session, exclusive bool, now time.Time) (*core.Session, error) {
	var userID, clientID string
	err := tx.QueryRow(ctx, `SELECT user_id, COALESCE(client_id, '') FROM sessions WHERE refresh_hash = $1`,
		refreshHash).Scan(&userID, &clientID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotSpendable
	} else if err != nil {
		return nil, formatError(err)
	}
	spent, err := spendRefresh(ctx, tx, refreshHash, userID, clientID, exclusive, now)
	if err != nil {
		return nil, err
	}
	next.FamilyID, next.UserID, next.ClientID = spent.FamilyID, spent.UserID, spent.ClientID
	if err := createSession(ctx, tx, next, exclusive, now); err != nil {
		return nil, err
	}
	return spent, nil
}

// spendRefresh locks the owners, then marks the refresh token spent if it is live and
// its user enabled, and returns the spent session with its User. When a concurrent
// rotation spent it first, the UPDATE waits for that one to commit, re-reads the row,
// and matches nothing: errNotSpendable.
func spendRefresh(ctx context.Context, tx pgx.Tx, refreshHash []byte, userID, clientID string, exclusive bool, now time.Time) (*core.Session, error) {
	b := &pgx.Batch{}
	queueLockOwners(b, userID, clientID, exclusive)
	locks := b.Len()
	b.Queue(`
		UPDATE sessions s SET refreshed_at = $2
		FROM users u
		WHERE s.refresh_hash = $1 AND s.refreshed_at IS NULL AND s.refresh_expires_at > $2
			AND u.id = s.user_id AND NOT u.disabled
		RETURNING `+sessionColumns, refreshHash, now)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	for range locks {
		if _, err := br.Exec(); err != nil {
			return nil, formatError(err)
		}
	}
	spent, err := scanSession(br.QueryRow())
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotSpendable
	} else if err != nil {
		return nil, formatError(err)
	}
	return spent, formatError(br.Close())
}

// endReusedFamily ends the family of the refresh token that hashes to refreshHash if
// that token was spent already, and returns EREUSED; ENOTFOUND if there is no such
// spent token (unknown, expired, revoked, or its user disabled).
func endReusedFamily(ctx context.Context, q dbtx, refreshHash []byte) error {
	var familyID string
	err := q.QueryRow(ctx, `SELECT family_id FROM sessions WHERE refresh_hash = $1 AND refreshed_at IS NOT NULL`,
		refreshHash).Scan(&familyID)
	if err != nil {
		return refine(formatError(err), core.ENOTFOUND, msgTokenNotFound)
	}
	if err := revokeFamily(ctx, q, familyID); err != nil {
		return err
	}
	return core.Errorf(core.EREUSED, "the refresh token was used before; its session has ended")
}

// RevokeFamily ends every session of the family. Ending a family that does not exist
// is not an error.
func (db *DB) RevokeFamily(ctx context.Context, familyID string) error {
	return revokeFamily(ctx, db.pool, familyID)
}

// revokeFamily deletes the family's sessions until none is left. In READ COMMITTED
// each DELETE sees the rows committed before it started; a rotation of the family that
// was in flight when the first DELETE started, and whose new row that DELETE therefore
// missed, has committed by the time the DELETE returns (the DELETE waited for the
// spent row), so the next DELETE ends it.
func revokeFamily(ctx context.Context, q dbtx, familyID string) error {
	for {
		tag, err := q.Exec(ctx, `DELETE FROM sessions WHERE family_id = $1`, familyID)
		if err != nil {
			return formatError(err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
	}
}

// PurgeExpired deletes the sessions whose refresh token has expired by the store's
// clock (at or before it), purgeBatch at a time, and returns how many it deleted.
// Each batch finds its rows on the expiry index and deletes them through the primary
// key (= ANY of an array; an IN subquery would scan the whole table).
//
// Several instances purge the same table at once, and requests delete expired rows
// too (an exclusive login ends its principal's other families). So a batch locks its
// rows FOR UPDATE SKIP LOCKED: it takes only rows no one else holds, and a purge never
// waits for a lock, so it cannot be part of a deadlock, nor block behind a request;
// concurrent purges split the work instead of queueing on the same rows. A batch that
// finds nothing to lock ends the purge: what is left, if anything, is being deleted by
// the transactions that hold it.
func (db *DB) PurgeExpired(ctx context.Context) (int, error) {
	now, total := db.clock(), 0
	for {
		tag, err := db.pool.Exec(ctx, `
			DELETE FROM sessions WHERE id = ANY (ARRAY(
				SELECT id FROM sessions WHERE refresh_expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`, now, purgeBatch)
		if err != nil {
			return total, formatError(err)
		}
		total += int(tag.RowsAffected())
		if tag.RowsAffected() == 0 {
			return total, nil
		}
	}
}

// scanSession reads the sessionColumns of row.
func scanSession(row pgx.Row) (*core.Session, error) {
	var (
		s    core.Session
		user userRow
	)
	dest := append([]any{&s.ID, &s.FamilyID, &s.UserID, &s.ClientID, &s.AccessHash, &s.RefreshHash,
		&s.AccessExpiresAt, &s.RefreshExpiresAt, &s.CreatedAt}, user.dest()...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	s.AccessExpiresAt, s.RefreshExpiresAt, s.CreatedAt = s.AccessExpiresAt.UTC(), s.RefreshExpiresAt.UTC(), s.CreatedAt.UTC()
	s.User = user.user()
	return &s, nil
}

// CountSessions returns how many sessions are live by the store's clock: families
// whose newest refresh token is unspent and unexpired. It reads the index on
// refresh_expires_at.
func (db *DB) CountSessions(ctx context.Context) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx,
		`SELECT count(*) FROM sessions WHERE refresh_expires_at > $1 AND refreshed_at IS NULL`, db.clock()).Scan(&n)
	return n, formatError(err)
}
