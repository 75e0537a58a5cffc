package pgtest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vroauth/vroauth/internal/postgres/pgtest"
)

func TestWithParam(t *testing.T) {
	tests := []struct {
		name, dsn, want string
	}{
		{"OKURL", "postgres://u:p@127.0.0.1:5432/db?sslmode=disable", "postgres://u:p@127.0.0.1:5432/db?search_path=s1&sslmode=disable"},
		{"OKURLReplaces", "postgresql://h/db?search_path=old", "postgresql://h/db?search_path=s1"},
		{"OKKeyValue", "host=127.0.0.1 dbname=db ", "host=127.0.0.1 dbname=db search_path=s1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := pgtest.WithParam(tt.dsn, "search_path", "s1"); err != nil || got != tt.want {
				t.Errorf("WithParam(%q) = %q, %v; want %q", tt.dsn, got, err, tt.want)
			}
		})
	}
	t.Run("ErrMalformed", func(t *testing.T) {
		const dsn = "postgres://u:hunter2@%zz/db"
		if got, err := pgtest.WithParam(dsn, "search_path", "s1"); err == nil {
			t.Errorf("WithParam(%q) = %q, nil; want an error", dsn, got)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("WithParam(%q) error %q repeats the password", dsn, err)
		}
	})
}

func TestRequired(t *testing.T) {
	for in, want := range map[string]bool{"": false, "0": false, "false": false, "1": true, "true": true, "yes": true} {
		t.Setenv(pgtest.EnvRequire, in)
		if got := pgtest.Required(); got != want {
			t.Errorf("Required() with %s=%q = %t; want %t", pgtest.EnvRequire, in, got, want)
		}
	}
}

// TestDSN checks that each DSN is a schema of its own, that tables created through one
// are invisible through another, and that the schema is dropped when its test ends.
func TestDSN(t *testing.T) {
	base := pgtest.BaseDSN(t)
	var schemas []string
	t.Run("OK", func(t *testing.T) {
		a, b := pgtest.DSN(t), pgtest.DSN(t)
		if a == b {
			t.Fatalf("DSN() twice = %q both times; want two schemas", a)
		}
		exec(t, a, `CREATE TABLE marker (x INT)`)
		if n := count(t, a, `SELECT count(*) FROM pg_tables WHERE tablename = 'marker' AND schemaname = current_schema()`); n != 1 {
			t.Errorf("tables named marker in the first schema = %d; want 1", n)
		}
		if n := count(t, b, `SELECT count(*) FROM pg_tables WHERE tablename = 'marker' AND schemaname = current_schema()`); n != 0 {
			t.Errorf("tables named marker in the second schema = %d; want 0", n)
		}
		for _, dsn := range []string{a, b} {
			schemas = append(schemas, current(t, dsn))
		}
	})
	for _, s := range schemas {
		if n := count(t, base, `SELECT count(*) FROM pg_namespace WHERE nspname = '`+s+`'`); n != 0 {
			t.Errorf("schema %s after its test ended: %d found; want dropped", s, n)
		}
	}
	if len(schemas) != 2 {
		t.Errorf("schemas seen = %v; want 2", schemas)
	}
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec(t *testing.T, dsn, sql string) {
	t.Helper()
	if _, err := connect(t, dsn).Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, dsn, sql string) int {
	t.Helper()
	var n int
	if err := connect(t, dsn).QueryRow(t.Context(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func current(t *testing.T, dsn string) string {
	t.Helper()
	var s string
	if err := connect(t, dsn).QueryRow(t.Context(), `SELECT current_schema()`).Scan(&s); err != nil {
		t.Fatalf("current_schema(): %v", err)
	}
	return s
}
