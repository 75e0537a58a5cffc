package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/server"
)

func runUsers(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return errors.New("users: want a subcommand: add, list, disable, enable, delete, set-role, set-password")
	}
	sub, args := args[0], args[1:]
	var o usersOptions
	fs := newFlagSet(env, "users "+sub, "users "+sub+" [flags]")
	fs.StringVar(&o.db, "db", "vroauth.db", "SQLite file, or a postgres:// URL")
	needName := sub != "list"
	if needName {
		fs.StringVar(&o.username, "username", "", `DOMAIN\USERNAME or USERNAME`)
	}
	if sub == "add" || sub == "set-role" {
		fs.StringVar(&o.role, "role", "", "Administrator, PlanAuthor or PlanOperator")
	}
	if sub == "add" || sub == "set-password" {
		fs.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	}
	if sub == "list" {
		fs.StringVar(&o.output, "output", "table", "table or json")
	}
	if err := parseWithEnv(fs, env, args); err != nil {
		return err
	}
	if needName && o.username == "" {
		return fmt.Errorf("users %s: --username is required", sub)
	}
	store, err := openStore(ctx, o.db)
	if err != nil {
		return err
	}
	defer store.Close()
	o.log = slog.New(slog.NewTextHandler(env.Stderr, nil))
	return o.run(ctx, env, store, sub)
}

type usersOptions struct {
	db, username, role, output string
	passwordStdin              bool
	log                        *slog.Logger // audit events, to stderr
}

// audit writes the audit event of a change made to u, naming the operating-system
// user who ran the command when the environment tells.
func (o *usersOptions) audit(ctx context.Context, env *Env, event string, u *core.User, attrs ...slog.Attr) {
	attrs = append([]slog.Attr{slog.String("user_id", u.ID), slog.String("username", u.Name)}, attrs...)
	attrs = append(attrs, slog.String("via", "cli"))
	if who := env.Getenv("USER"); who != "" {
		attrs = append(attrs, slog.String("os_user", who))
	}
	server.Audit(ctx, o.log, slog.LevelInfo, event, attrs...)
}

// updateEvents are the audit events of the users subcommands that update a user.
var updateEvents = map[string]string{
	"disable":      server.EventUserDisabled,
	"enable":       server.EventUserEnabled,
	"set-role":     server.EventUserRoleChanged,
	"set-password": server.EventUserPasswordChanged,
}

func (o *usersOptions) run(ctx context.Context, env *Env, store core.Store, sub string) error {
	switch sub {
	case "add":
		return o.add(ctx, env, store)
	case "list":
		return o.list(ctx, env, store)
	case "disable", "enable":
		disabled := sub == "disable"
		return o.update(ctx, env, store, sub, core.UserUpdate{Disabled: &disabled})
	case "set-role":
		role, err := core.ParseRole(o.role)
		if err != nil {
			return fmt.Errorf("users set-role: %s", core.ErrorMessage(err))
		}
		return o.update(ctx, env, store, sub, core.UserUpdate{Role: &role})
	case "set-password":
		password, err := readPassword(env.Stdin, o.passwordStdin)
		if err != nil {
			return fmt.Errorf("users set-password: %w", err)
		}
		hash := core.DefaultPasswordHasher.Hash(password)
		return o.update(ctx, env, store, sub, core.UserUpdate{PasswordHash: &hash})
	case "delete":
		u, err := store.FindUserByName(ctx, o.username)
		if err == nil {
			err = store.DeleteUser(ctx, o.username)
		}
		if err != nil {
			return fmt.Errorf("users delete: %s", userError(err))
		}
		o.audit(ctx, env, server.EventUserDeleted, u)
		fmt.Fprintf(env.Stdout, "deleted user %s with its client accounts and sessions\n", o.username)
		return nil
	}
	return fmt.Errorf("users: unknown subcommand %q", sub)
}

func (o *usersOptions) add(ctx context.Context, env *Env, store core.Store) error {
	role, err := core.ParseRole(o.role)
	if err != nil {
		return fmt.Errorf("users add: %s", core.ErrorMessage(err))
	}
	password, err := readPassword(env.Stdin, o.passwordStdin)
	if err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	u, err := newUser(o.username, password, role)
	if err != nil {
		return fmt.Errorf("users add: %w", err)
	}
	if err := store.CreateUser(ctx, u); err != nil {
		return fmt.Errorf("users add: %s", userError(err))
	}
	o.audit(ctx, env, server.EventUserAdded, u, slog.String("role", string(u.Role)))
	fmt.Fprintf(env.Stdout, "added user %s (%s)\n", u.Name, u.Role)
	return nil
}

func (o *usersOptions) update(ctx context.Context, env *Env, store core.Store, sub string, upd core.UserUpdate) error {
	u, err := store.UpdateUser(ctx, o.username, upd)
	if err != nil {
		return fmt.Errorf("users %s: %s", sub, userError(err))
	}
	if upd.Role != nil {
		o.audit(ctx, env, updateEvents[sub], u, slog.String("role", string(u.Role)))
	} else {
		o.audit(ctx, env, updateEvents[sub], u)
	}
	fmt.Fprintf(env.Stdout, "%s: %s\n", sub, describeUser(u))
	return nil
}

func (o *usersOptions) list(ctx context.Context, env *Env, store core.Store) error {
	users, err := store.FindUsers(ctx)
	if err != nil {
		return fmt.Errorf("users list: %w", err)
	}
	switch o.output {
	case "json":
		type row struct {
			ID       string    `json:"id"`
			Username string    `json:"username"`
			Role     core.Role `json:"role"`
			Disabled bool      `json:"disabled"`
		}
		rows := make([]row, 0, len(users))
		for _, u := range users {
			rows = append(rows, row{u.ID, u.Name, u.Role, u.Disabled})
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	case "table":
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tROLE\tSTATUS\tID")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, status(u), u.ID)
		}
		return tw.Flush()
	}
	return fmt.Errorf("users list: --output must be table or json")
}

func status(u *core.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "enabled"
}

func describeUser(u *core.User) string {
	return fmt.Sprintf("%s (%s, %s)", u.Name, u.Role, status(u))
}

func userError(err error) string {
	if core.ErrorCode(err) == core.EINTERNAL {
		return err.Error()
	}
	return core.ErrorMessage(err)
}

// newUser returns a user with a fresh ID and the password hashed.
func newUser(name, password string, role core.Role) (*core.User, error) {
	if err := core.ValidateUserName(name); err != nil {
		return nil, errors.New(core.ErrorMessage(err))
	}
	if len(password) < 8 || len(password) > 1024 {
		return nil, errors.New("a password must have 8 to 1024 characters")
	}
	return &core.User{
		ID:           core.NewID(),
		Name:         strings.TrimSpace(name),
		PasswordHash: core.DefaultPasswordHasher.Hash(password),
		Role:         role,
	}, nil
}

// readPassword reads the first line of r; only with --password-stdin, so that a
// password never sits in a command line or the shell history.
func readPassword(r io.Reader, fromStdin bool) (string, error) {
	if !fromStdin {
		return "", errors.New("give the password on standard input with --password-stdin")
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("standard input held no password")
	}
	return password, nil
}
