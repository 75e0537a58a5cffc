package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/vroauth/vroauth/internal/core"
)

// CreateClient stores c, setting c.CreatedAt; c.ID, c.UserID and c.SecretHash must be
// set. ENOTFOUND if the owner does not exist; ECONFLICT if the ID is taken.
func (db *DB) CreateClient(ctx context.Context, c *core.Client) error {
	now := db.clock()
	_, err := db.pool.Exec(ctx, `
		INSERT INTO clients (id, user_id, secret_hash, created_at) VALUES ($1, $2, $3, $4)`,
		c.ID, c.UserID, c.SecretHash, now)
	if err != nil {
		return formatError(err)
	}
	c.CreatedAt = now
	return nil
}

// FindClient returns the client with the given ID with its Owner, disabled or not.
// ENOTFOUND if there is none.
func (db *DB) FindClient(ctx context.Context, id string) (*core.Client, error) {
	row := db.pool.QueryRow(ctx, `
		SELECT c.id, c.user_id, c.secret_hash, c.created_at, `+userColumns+`
		FROM clients c JOIN users u ON u.id = c.user_id
		WHERE c.id = $1`, id)
	c, err := scanClient(row)
	if err != nil {
		return nil, refine(formatError(err), core.ENOTFOUND, "the client does not exist")
	}
	return c, nil
}

// FindClientIDs returns the IDs of the clients owned by userID, oldest first (in the
// order of creation when several share a creation time); none is an empty slice.
func (db *DB) FindClientIDs(ctx context.Context, userID string) ([]string, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT id FROM clients WHERE user_id = $1 ORDER BY created_at, seq`, userID)
	if err != nil {
		return nil, formatError(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, formatError(err)
}

// DeleteClient deletes the client; the schema's cascade deletes every session of it
// in the same statement. ENOTFOUND if there is none.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() == 0 {
		return core.Errorf(core.ENOTFOUND, "the client does not exist")
	}
	return nil
}

// scanClient reads a client and its owner's userColumns from row.
func scanClient(row pgx.Row) (*core.Client, error) {
	var (
		c     core.Client
		owner userRow
	)
	if err := row.Scan(append([]any{&c.ID, &c.UserID, &c.SecretHash, &c.CreatedAt}, owner.dest()...)...); err != nil {
		return nil, err
	}
	c.CreatedAt = c.CreatedAt.UTC()
	c.Owner = owner.user()
	return &c, nil
}
