package sqlite

import (
	"context"
	"time"

	"github.com/vroauth/vroauth/internal/core"
)

// importBatch is how many rows Import writes per transaction: large enough that the
// commit's fsync is paid rarely, small enough that the write lock is never held long.
const importBatch = 5000

// The statements of Import: rows as given, no conditions.
const (
	importUser = `INSERT INTO users (id, name, name_key, password_hash, role, disabled, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	importClient  = `INSERT INTO clients (id, user_id, secret_hash, created_at) VALUES (?, ?, ?, ?)`
	importSession = `INSERT INTO sessions (id, family_id, user_id, client_id, access_hash, refresh_hash,
		access_expires_at, refresh_expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// Import stores users, clients and sessions as they are given, many rows per
// transaction, to load a database in bulk: seeding a load test with a million
// sessions, say, or moving accounts from another server. Each row keeps its CreatedAt
// (the store's clock if zero; UpdatedAt likewise for users), a session's FamilyID
// defaults to its ID, and only the schema's constraints are checked: a session's user
// and client must exist, stored earlier or in the same call. Users are written first,
// then clients, then sessions. On failure the batches already committed stay; the
// error is ECONFLICT or ENOTFOUND for the row that broke a constraint.
func (db *DB) Import(ctx context.Context, users []*core.User, clients []*core.Client, sessions []*core.Session) error {
	err := importRows(ctx, db, users, func(ctx context.Context, tx *tx, u *core.User) error {
		created := orNow(u.CreatedAt, tx.now)
		_, err := tx.ExecContext(ctx, importUser, u.ID, u.Name, core.UserKey(u.Name), u.PasswordHash,
			string(u.Role), u.Disabled, millis(created), millis(orNow(u.UpdatedAt, created)))
		return err
	})
	if err == nil {
		err = importRows(ctx, db, clients, func(ctx context.Context, tx *tx, c *core.Client) error {
			_, err := tx.ExecContext(ctx, importClient, c.ID, c.UserID, c.SecretHash, millis(orNow(c.CreatedAt, tx.now)))
			return err
		})
	}
	if err == nil {
		err = importRows(ctx, db, sessions, func(ctx context.Context, tx *tx, s *core.Session) error {
			var clientID any
			if s.ClientID != "" {
				clientID = s.ClientID
			}
			family := s.FamilyID
			if family == "" {
				family = s.ID
			}
			_, err := tx.ExecContext(ctx, importSession, s.ID, family, s.UserID, clientID, s.AccessHash, s.RefreshHash,
				millis(s.AccessExpiresAt), millis(s.RefreshExpiresAt), millis(orNow(s.CreatedAt, tx.now)))
			return err
		})
	}
	return formatError("import", err)
}

// importRows writes rows with insert, importBatch rows per transaction.
func importRows[T any](ctx context.Context, db *DB, rows []T, insert func(context.Context, *tx, T) error) error {
	for len(rows) > 0 {
		batch := rows[:min(len(rows), importBatch)]
		rows = rows[len(batch):]
		err := db.update(ctx, func(tx *tx) error {
			for _, row := range batch {
				if err := insert(ctx, tx, row); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// orNow returns t, or now if t is zero.
func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}
