package sqlite

import (
	"context"
	"database/sql"

	"github.com/vroauth/vroauth/internal/core"
)

// The columns scanUser reads: of the users table, and of it aliased u in a join.
const (
	userFields  = `id, name, password_hash, role, disabled, created_at, updated_at`
	userColumns = `u.id, u.name, u.password_hash, u.role, u.disabled, u.created_at, u.updated_at`
)

// CreateUser stores u, setting u.CreatedAt and u.UpdatedAt. ECONFLICT if a user with
// the same name (case-insensitively) or ID exists.
func (db *DB) CreateUser(ctx context.Context, u *core.User) error {
	err := db.updateOne(ctx, func(tx *tx) error { return createUser(ctx, tx, u) })
	return refine(formatError("create user", err), core.ECONFLICT, "a user named %q exists already", u.Name)
}

func createUser(ctx context.Context, tx *tx, u *core.User) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO users (id, name, name_key, password_hash, role, disabled, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Name, core.UserKey(u.Name), u.PasswordHash, string(u.Role), u.Disabled, millis(tx.now), millis(tx.now))
	if err == nil {
		u.CreatedAt, u.UpdatedAt = tx.now, tx.now
	}
	return err
}

// FindUserByName returns the user whose name equals name case-insensitively.
// ENOTFOUND if there is none.
func (db *DB) FindUserByName(ctx context.Context, name string) (*core.User, error) {
	row := reader{db.read}.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users u WHERE u.name_key = ?`, core.UserKey(name))
	u, err := scanUser(row)
	if err != nil {
		return nil, refine(formatError("find user", err), core.ENOTFOUND, "no user named %q", name)
	}
	return u, nil
}

// FindUsers returns every user, ordered by name key.
func (db *DB) FindUsers(ctx context.Context) ([]*core.User, error) {
	users, err := findUsers(ctx, reader{db.read})
	return users, formatError("find users", err)
}

func findUsers(ctx context.Context, q queryer) ([]*core.User, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+userColumns+` FROM users u ORDER BY u.name_key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var users []*core.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// CountUsers returns how many users exist.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := reader{db.read}.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, formatError("count users", err)
}

// UpdateUser applies upd to the named user and returns it. Disabling the user or
// changing its password ends every session of the user and of its clients in the same
// transaction. ENOTFOUND if there is no such user; EINVALID for an unknown role.
func (db *DB) UpdateUser(ctx context.Context, name string, upd core.UserUpdate) (*core.User, error) {
	var u *core.User
	err := db.update(ctx, func(tx *tx) (err error) {
		u, err = updateUser(ctx, tx, name, upd)
		return err
	})
	if err != nil {
		return nil, refine(formatError("update user", err), core.ENOTFOUND, "no user named %q", name)
	}
	return u, nil
}

func updateUser(ctx context.Context, tx *tx, name string, upd core.UserUpdate) (*core.User, error) {
	var role any
	if upd.Role != nil {
		role = string(*upd.Role)
	}
	row := tx.QueryRowContext(ctx, `
		UPDATE users SET role = coalesce(?, role), disabled = coalesce(?, disabled),
			password_hash = coalesce(?, password_hash), updated_at = ?
		WHERE name_key = ?
		RETURNING `+userFields,
		role, upd.Disabled, upd.PasswordHash, millis(tx.now), core.UserKey(name))
	u, err := scanUser(row)
	if err != nil {
		return nil, err
	}
	if upd.PasswordHash != nil || upd.Disabled != nil && *upd.Disabled {
		err = deleteUserSessions(ctx, tx, u.ID)
	}
	return u, err
}

// DeleteUser deletes the named user; its client accounts and every session of both go
// with it (ON DELETE CASCADE). ENOTFOUND if there is no such user.
func (db *DB) DeleteUser(ctx context.Context, name string) error {
	err := db.updateOne(ctx, func(tx *tx) error {
		return oneRow(tx.ExecContext(ctx, `DELETE FROM users WHERE name_key = ?`, core.UserKey(name)))
	})
	return refine(formatError("delete user", err), core.ENOTFOUND, "no user named %q", name)
}

// oneRow turns a statement that changed no row into sql.ErrNoRows.
func oneRow(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = sql.ErrNoRows
	}
	return err
}

// scanUser reads the userColumns of a row.
func scanUser(sc scanner) (*core.User, error) {
	var u core.User
	var created, updated int64
	err := sc.Scan(&u.ID, &u.Name, &u.PasswordHash, &u.Role, &u.Disabled, &created, &updated)
	if err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = fromMillis(created), fromMillis(updated)
	return &u, nil
}
