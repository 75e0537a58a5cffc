package sqlite

import (
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vroauth/vroauth/internal/core"
)

// TestPragmas checks the settings that durability and integrity rest on, on each pool.
func TestPragmas(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "vroauth.db"))
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer db.Close()
	tests := []struct {
		pool   string
		pragma string
		want   string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "synchronous", "2"}, // FULL
		{"write", "foreign_keys", "1"},
		{"write", "busy_timeout", "5000"},
		{"read", "journal_mode", "wal"},
		{"read", "query_only", "1"},
		{"read", "busy_timeout", "5000"},
		{"read", "cache_size", "-1024"},
		{"write", "temp_store", "2"}, // MEMORY: the savepoints of a batch never spill to a file
	}
	for _, tt := range tests {
		pool := db.write.pool
		if tt.pool == "read" {
			pool = db.read.pool
		}
		var got string
		if err := pool.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s on the %s pool: %v", tt.pragma, tt.pool, err)
		}
		if got != tt.want {
			t.Errorf("PRAGMA %s on the %s pool = %s; want %s", tt.pragma, tt.pool, got, tt.want)
		}
	}
}

// TestQueryPlan checks that every lookup by token hash or ID searches an index and
// never scans a table.
func TestQueryPlan(t *testing.T) {
	db, err := Open(t.Context(), Memory)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer db.Close()
	queries := map[string]struct {
		query string
		args  []any
	}{
		"findSessionByAccess":  {findSessionByAccess, []any{[]byte("h"), 0}},
		"findSessionByRefresh": {findSessionByRefresh, []any{[]byte("h")}},
		"findSessionByToken":   {findSessionByToken, []any{[]byte("h"), []byte("h")}},
		"findClient":           {findClientByID, []any{"id"}},
		"findClientIDs":        {findClientIDsByUser, []any{"id"}},
	}
	for name, q := range queries {
		rows, err := db.read.pool.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q.query, q.args...)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notUsed int
			var detail string
			if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
				t.Fatalf("EXPLAIN %s: %v", name, err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN") || strings.Contains(step, "TEMP B-TREE") {
				t.Errorf("query plan of %s = %q; want index searches only", name, plan)
				break
			}
		}
	}
}

// TestMigrate checks that reopening a database applies no migration twice.
func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vroauth.db")
	want, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil || len(want) == 0 {
		t.Fatalf("embedded migrations = %q, %v; want some", want, err)
	}
	for i := range want {
		want[i] = filepath.Base(want[i])
	}
	for range 3 {
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		var got []string
		rows, err := db.read.pool.QueryContext(t.Context(), `SELECT name FROM migrations ORDER BY name`)
		if err != nil {
			t.Fatalf("query migrations: %v", err)
		}
		for rows.Next() {
			var name string
			rows.Scan(&name)
			got = append(got, name)
		}
		rows.Close()
		db.Close()
		if !slices.Equal(got, want) {
			t.Fatalf("applied migrations = %q; want %q", got, want)
		}
	}
}

// TestRevisionWatchesShm checks how Revision decides to read the database: not at all
// while nothing has committed since its last read (the read pool is closed to prove
// it), and again as soon as another handle commits anything.
func TestRevisionWatchesShm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vroauth.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer db.Close()
	other, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer other.Close()
	if db.shm == nil {
		t.Fatal("the WAL index of an on-disk database is not watched")
	}
	if _, err := db.Revision(t.Context()); err != nil {
		t.Fatalf("Revision() = %v; want nil", err)
	}
	db.read.pool.Close() // from here on, a query fails
	if _, err := db.Revision(t.Context()); err != nil {
		t.Errorf("Revision() with nothing committed since the last one = %v; want nil, without a query", err)
	}
	if err := other.CreateUser(t.Context(), &core.User{ID: core.NewID(), Name: "bob", PasswordHash: "h", Role: core.RolePlanAuthor}); err != nil {
		t.Fatalf("CreateUser = %v", err)
	}
	if _, err := db.Revision(t.Context()); err == nil {
		t.Error("Revision() after another handle committed = nil error with the read pool closed; want the failed query")
	}
}
