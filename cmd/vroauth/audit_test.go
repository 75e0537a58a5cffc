package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsersAudit checks that every users subcommand that changes a user writes its
// audit event to standard error, and never the password.
func TestUsersAudit(t *testing.T) {
	db := filepath.Join(t.TempDir(), "vroauth.db")
	name := `CORP\planner`
	steps := []struct {
		name, stdin, event string
		args               []string
		fields             []string
	}{
		{"Add", "first-password\n", "user.added", []string{"add", "--role", "PlanAuthor", "--password-stdin"}, []string{"role=PlanAuthor"}},
		{"Disable", "", "user.disabled", []string{"disable"}, nil},
		{"Enable", "", "user.enabled", []string{"enable"}, nil},
		{"SetRole", "", "user.role_changed", []string{"set-role", "--role", "PlanOperator"}, []string{"role=PlanOperator"}},
		{"SetPassword", "second-password\n", "user.password_changed", []string{"set-password", "--password-stdin"}, nil},
		{"Delete", "", "user.deleted", []string{"delete"}, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			var out, errOut syncBuffer
			args := append([]string{"users", st.args[0], "--db", db, "--username", name}, st.args[1:]...)
			err := Run(context.Background(), args, &Env{
				Stdin: strings.NewReader(st.stdin), Stdout: &out, Stderr: &errOut,
				Getenv: func(k string) string { return map[string]string{"USER": "operator"}[k] },
			})
			if err != nil {
				t.Fatalf("vroauth %s: %v", strings.Join(args, " "), err)
			}
			logged := errOut.String()
			for _, want := range append([]string{"audit=true", "event=" + st.event, "user_id=", "via=cli", "os_user=operator"}, st.fields...) {
				if !strings.Contains(logged, want) {
					t.Errorf("vroauth users %s logged %q; want it to hold %q", st.args[0], logged, want)
				}
			}
			if strings.Contains(logged, "password-") || strings.Contains(logged, "$argon2") {
				t.Errorf("vroauth users %s logged a password or its hash: %q", st.args[0], logged)
			}
		})
	}
	t.Run("ErrNotFound", func(t *testing.T) {
		var errOut syncBuffer
		err := Run(context.Background(), []string{"users", "delete", "--db", db, "--username", name},
			&Env{Stdin: strings.NewReader(""), Stdout: &syncBuffer{}, Stderr: &errOut, Getenv: func(string) string { return "" }})
		if err == nil || strings.Contains(errOut.String(), "audit=true") {
			t.Errorf("deleting a missing user: %v, logged %q; want an error and no audit event", err, errOut.String())
		}
	})
}
