package sqlite

import (
	"context"

	"github.com/vroauth/vroauth/internal/core"
)

// The client lookups: each is one query on an index.
const (
	findClientByID = `SELECT c.id, c.user_id, c.secret_hash, c.created_at, ` + userColumns + `
		FROM clients c JOIN users u ON u.id = c.user_id
		WHERE c.id = ?`
	findClientIDsByUser = `SELECT id FROM clients WHERE user_id = ? ORDER BY created_at, rowid`
)

// CreateClient stores c, setting c.CreatedAt. ENOTFOUND if the owner does not exist;
// ECONFLICT if the ID is taken.
func (db *DB) CreateClient(ctx context.Context, c *core.Client) error {
	err := db.updateOne(ctx, func(tx *tx) error { return createClient(ctx, tx, c) })
	err = refine(formatError("create client", err), core.ECONFLICT, "client %s exists already", c.ID)
	return refine(err, core.ENOTFOUND, "the owner of client %s does not exist", c.ID)
}

func createClient(ctx context.Context, tx *tx, c *core.Client) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO clients (id, user_id, secret_hash, created_at) VALUES (?, ?, ?, ?)`,
		c.ID, c.UserID, c.SecretHash, millis(tx.now))
	if err == nil {
		c.CreatedAt = tx.now
	}
	return err
}

// FindClient returns the client with the given ID with its Owner, read in the same
// query. ENOTFOUND if there is none.
func (db *DB) FindClient(ctx context.Context, id string) (*core.Client, error) {
	c, err := findClient(ctx, reader{db.read}, id)
	if err != nil {
		return nil, refine(formatError("find client", err), core.ENOTFOUND, "no client %s", id)
	}
	return c, nil
}

func findClient(ctx context.Context, q queryer, id string) (*core.Client, error) {
	row := q.QueryRowContext(ctx, findClientByID, id)
	var c core.Client
	var u core.User
	var created, ucreated, uupdated int64
	err := row.Scan(&c.ID, &c.UserID, &c.SecretHash, &created,
		&u.ID, &u.Name, &u.PasswordHash, &u.Role, &u.Disabled, &ucreated, &uupdated)
	if err != nil {
		return nil, err
	}
	c.CreatedAt = fromMillis(created)
	u.CreatedAt, u.UpdatedAt = fromMillis(ucreated), fromMillis(uupdated)
	c.Owner = &u
	return &c, nil
}

// FindClientIDs returns the IDs of the clients owned by userID, oldest first; none if
// the user has no clients or does not exist.
func (db *DB) FindClientIDs(ctx context.Context, userID string) ([]string, error) {
	ids, err := findClientIDs(ctx, reader{db.read}, userID)
	return ids, formatError("find client IDs", err)
}

func findClientIDs(ctx context.Context, q queryer, userID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, findClientIDsByUser, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// DeleteClient deletes the client; every session of it goes with it (ON DELETE
// CASCADE). ENOTFOUND if there is none.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	err := db.updateOne(ctx, func(tx *tx) error {
		return oneRow(tx.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id))
	})
	return refine(formatError("delete client", err), core.ENOTFOUND, "no client %s", id)
}
