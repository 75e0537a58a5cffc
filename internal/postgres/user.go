package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vroauth/vroauth/internal/core"
)

// userColumns are the columns scanUser reads, from the users table aliased u.
const userColumns = `u.id, u.name, u.password_hash, u.role, u.disabled, u.created_at, u.updated_at`

// CreateUser stores u, setting u.CreatedAt and u.UpdatedAt; u.ID must be set.
// ECONFLICT if a user with the same name (case-insensitively) or ID exists.
func (db *DB) CreateUser(ctx context.Context, u *core.User) error {
	now := db.clock()
	_, err := db.pool.Exec(ctx, `
		INSERT INTO users (id, name, name_key, password_hash, role, disabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
		u.ID, u.Name, core.UserKey(u.Name), u.PasswordHash, string(u.Role), u.Disabled, now)
	if err != nil {
		return formatError(err)
	}
	u.CreatedAt, u.UpdatedAt = now, now
	return nil
}

// FindUserByName returns the user whose name equals name case-insensitively.
// ENOTFOUND if there is none.
func (db *DB) FindUserByName(ctx context.Context, name string) (*core.User, error) {
	row := db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.name_key = $1`, core.UserKey(name))
	u, err := scanUser(row)
	if err != nil {
		return nil, refine(formatError(err), core.ENOTFOUND, "the user does not exist")
	}
	return u, nil
}

// FindUsers returns every user, ordered by name key.
func (db *DB) FindUsers(ctx context.Context) ([]*core.User, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+userColumns+` FROM users u ORDER BY u.name_key`)
	if err != nil {
		return nil, formatError(err)
	}
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*core.User, error) { return scanUser(row) })
	return users, formatError(err)
}

// CountUsers returns how many users exist.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, formatError(err)
}

// UpdateUser applies upd to the named user and returns it. Disabling a user or
// setting its password ends every session of the user and of its clients in the same
// transaction: the UPDATE waits for the session writers that lock the user (see
// Locks in session.go), so the DELETE that follows sees every session they made.
// ENOTFOUND if there is no such user.
func (db *DB) UpdateUser(ctx context.Context, name string, upd core.UserUpdate) (*core.User, error) {
	var u *core.User
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if u, err = updateUser(ctx, tx, name, upd, db.clock()); err != nil {
			return err
		}
		if (upd.Disabled != nil && *upd.Disabled) || upd.PasswordHash != nil {
			_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, u.ID)
		}
		return err
	})
	if err != nil {
		return nil, refine(formatError(err), core.ENOTFOUND, "the user does not exist")
	}
	return u, nil
}

// updateUser applies upd to the named user, setting its UpdatedAt to now.
func updateUser(ctx context.Context, tx dbtx, name string, upd core.UserUpdate, now time.Time) (*core.User, error) {
	var role *string
	if upd.Role != nil {
		r := string(*upd.Role)
		role = &r
	}
	row := tx.QueryRow(ctx, `
		UPDATE users u SET
			role = COALESCE($2, u.role),
			disabled = COALESCE($3, u.disabled),
			password_hash = COALESCE($4, u.password_hash),
			updated_at = $5
		WHERE u.name_key = $1
		RETURNING `+userColumns,
		core.UserKey(name), role, upd.Disabled, upd.PasswordHash, now)
	u, err := scanUser(row)
	return u, formatError(err)
}

// DeleteUser deletes the named user; the schema's cascades delete its client accounts
// and every session of both in the same statement. ENOTFOUND if there is no such user.
func (db *DB) DeleteUser(ctx context.Context, name string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM users WHERE name_key = $1`, core.UserKey(name))
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() == 0 {
		return core.Errorf(core.ENOTFOUND, "the user does not exist")
	}
	return nil
}

// scanUser reads the userColumns of row.
func scanUser(row pgx.Row) (*core.User, error) {
	var r userRow
	if err := row.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return r.user(), nil
}

// userRow receives the userColumns of a row.
type userRow struct {
	u    core.User
	role string
}

// dest returns the scan destinations of the userColumns.
func (r *userRow) dest() []any {
	return []any{&r.u.ID, &r.u.Name, &r.u.PasswordHash, &r.role, &r.u.Disabled, &r.u.CreatedAt, &r.u.UpdatedAt}
}

// user returns the user scanned, with its times in UTC.
func (r *userRow) user() *core.User {
	r.u.Role = core.Role(r.role)
	r.u.CreatedAt, r.u.UpdatedAt = r.u.CreatedAt.UTC(), r.u.UpdatedAt.UTC()
	return &r.u
}
