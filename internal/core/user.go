package core

import (
	"context"
	"strings"
	"time"
)

// Role is what a user may do in the Orchestrator. Client accounts inherit their
// owner's role.
type Role string

// The roles that may authenticate.
const (
	RoleAdministrator Role = "Administrator"
	RolePlanAuthor    Role = "PlanAuthor"
	RolePlanOperator  Role = "PlanOperator"
)

// Roles lists every valid role.
var Roles = []Role{RoleAdministrator, RolePlanAuthor, RolePlanOperator}

// ParseRole returns the role named s, compared case-insensitively; "Plan Author" and
// "Plan Operator" (as the Orchestrator's UI spells them) are accepted too.
func ParseRole(s string) (Role, error) {
	key := strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	for _, r := range Roles {
		if strings.EqualFold(key, string(r)) {
			return r, nil
		}
	}
	return "", Errorf(EINVALID, "unknown role %q: want Administrator, PlanAuthor or PlanOperator", s)
}

// User is a person's account: `DOMAIN\USERNAME` or `USERNAME`.
type User struct {
	ID           string // lower-case GUID, assigned by the server
	Name         string // as created, e.g. CORP\jsmith; unique case-insensitively
	PasswordHash string // PHC-encoded slow hash (see HashPassword); never the password
	Role         Role
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// UserUpdate holds the fields of a user that may change; nil fields stay as they are.
type UserUpdate struct {
	Role         *Role
	Disabled     *bool
	PasswordHash *string
}

// UserKey is the form of a user name used for lookups: lower-case, so that names
// compare case-insensitively, with surrounding white space removed.
func UserKey(name string) string {
	return strings.ToLower(strings.TrimSpace(name))
}

// ValidateUserName reports whether name is a valid `DOMAIN\USERNAME` or `USERNAME`.
func ValidateUserName(name string) error {
	name = strings.TrimSpace(name)
	domain, user, hasDomain := strings.Cut(name, `\`)
	switch {
	case name == "" || len(name) > 256:
		return Errorf(EINVALID, "a user name must have 1 to 256 characters")
	case hasDomain && (domain == "" || user == "" || strings.Contains(user, `\`)):
		return Errorf(EINVALID, `a user name is DOMAIN\USERNAME or USERNAME`)
	case strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return Errorf(EINVALID, "a user name must not contain control characters")
	}
	return nil
}

// UserStore stores users.
type UserStore interface {
	// CreateUser stores u, setting u.CreatedAt and u.UpdatedAt; u.ID must be set.
	// ECONFLICT if a user with the same name (case-insensitively) exists.
	CreateUser(ctx context.Context, u *User) error
	// FindUserByName returns the user whose name equals name case-insensitively.
	// ENOTFOUND if there is none.
	FindUserByName(ctx context.Context, name string) (*User, error)
	// FindUsers returns every user, ordered by name key.
	FindUsers(ctx context.Context) ([]*User, error)
	// CountUsers returns how many users exist.
	CountUsers(ctx context.Context) (int, error)
	// UpdateUser applies upd to the named user and returns it. Disabling a user (or
	// changing its password) ends every session of the user and of its clients at once.
	// ENOTFOUND if there is no such user.
	UpdateUser(ctx context.Context, name string, upd UserUpdate) (*User, error)
	// DeleteUser deletes the named user with its client accounts and every session of
	// both. ENOTFOUND if there is no such user.
	DeleteUser(ctx context.Context, name string) error
}
