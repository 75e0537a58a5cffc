package main

import (
	"os"
	"testing"
)

// testBackend returns the store MustServe runs the server on: VROAUTH_TEST_BACKEND,
// "sqlite" (the default) or "postgres" (a new schema of VROAUTH_TEST_POSTGRES per
// server, with a --secret-key-file). The multi-instance tests run on PostgreSQL
// whatever it says.
func testBackend(t *testing.T) string {
	t.Helper()
	switch b := os.Getenv("VROAUTH_TEST_BACKEND"); b {
	case "", "sqlite":
		return "sqlite"
	case "postgres":
		return b
	default:
		t.Fatalf("VROAUTH_TEST_BACKEND=%q; want sqlite or postgres", b)
		return ""
	}
}

// skipUnlessSQLite skips a test that reads the SQLite database's files.
func skipUnlessSQLite(t *testing.T) {
	t.Helper()
	if b := testBackend(t); b != "sqlite" {
		t.Skipf("reads the SQLite database's files; VROAUTH_TEST_BACKEND=%s", b)
	}
}
