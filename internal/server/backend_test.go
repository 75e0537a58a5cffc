package server_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/postgres"
	"github.com/vroauth/vroauth/internal/postgres/pgtest"
)

// EnvBackend chooses the store the server tests run on: "sqlite" (the default) or
// "postgres", which needs pgtest.EnvDSN (see .ci/postgres.sh).
const EnvBackend = "VROAUTH_TEST_BACKEND"

// backend returns the value of EnvBackend, "sqlite" when it is unset.
func backend() string {
	if b := os.Getenv(EnvBackend); b != "" {
		return b
	}
	return "sqlite"
}

// pgSchemas maps the database paths the tests ask for to the PostgreSQL DSN (a schema
// of its own) that stands in for each, so that reopening a path, as TestRestart does,
// finds the data of the first opening.
var pgSchemas sync.Map // string -> string

// openPostgres is OpenStore on PostgreSQL: the first opening of path creates a schema,
// dropped when tb ends; a later one, in the same test, opens the same schema.
func openPostgres(tb testing.TB, path string, now core.Clock) core.Store {
	tb.Helper()
	if os.Getenv(pgtest.EnvDSN) == "" {
		tb.Fatalf("%s=postgres needs %s (eval \"$(bash .ci/postgres.sh)\")", EnvBackend, pgtest.EnvDSN)
	}
	dsn, ok := pgSchemas.Load(path)
	if !ok {
		dsn = pgtest.DSN(tb)
		pgSchemas.Store(path, dsn)
		tb.Cleanup(func() { pgSchemas.Delete(path) })
	}
	db, err := postgres.Open(context.Background(), dsn.(string), postgres.WithClock(now), postgres.WithMaxConns(8))
	if err != nil {
		tb.Fatalf("open PostgreSQL store: %v", err)
	}
	return db
}

// SkipUnlessBackend skips tb unless the tests run on the named backend, for a test
// of one store's own behaviour (such as SQLite's file locks).
func SkipUnlessBackend(tb testing.TB, name string) {
	tb.Helper()
	if backend() != name {
		tb.Skipf("a test of the %s store; %s=%s", name, EnvBackend, backend())
	}
}
