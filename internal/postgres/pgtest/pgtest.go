// Package pgtest gives each test a PostgreSQL schema of its own, in the database that
// VROAUTH_TEST_POSTGRES names (.ci/postgres.sh starts a local cluster and prints the
// variable).
//
// Without the variable the tests that ask for a schema skip, with a message saying how
// to enable them, so that `go test ./...` passes on a machine without PostgreSQL. When
// VROAUTH_REQUIRE_POSTGRES is set (CI sets it to 1), they fail instead, so that CI
// cannot pass without running them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The environment variables the package reads.
const (
	// EnvDSN names the test database: a postgres:// URL or a key=value DSN of a role
	// that may create schemas in it.
	EnvDSN = "VROAUTH_TEST_POSTGRES"
	// EnvRequire, when true (1), turns the skip of a missing EnvDSN into a failure.
	EnvRequire = "VROAUTH_REQUIRE_POSTGRES"
)

// Required reports whether EnvRequire asks for the PostgreSQL tests to run. A value
// that is not a boolean counts as true, so that a typo cannot turn CI's check off.
func Required() bool {
	v := os.Getenv(EnvRequire)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	return b || err != nil
}

// BaseDSN returns the DSN of the test database (EnvDSN). If there is none, it skips
// tb, or fails it when [Required].
func BaseDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(EnvDSN)
	switch {
	case dsn == "" && Required():
		tb.Fatalf("%s is set but %s is not: run eval \"$(bash .ci/postgres.sh)\" first", EnvRequire, EnvDSN)
	case dsn == "":
		tb.Skipf("set %s=postgres://... to run the PostgreSQL tests (eval \"$(bash .ci/postgres.sh)\" starts a local cluster and sets it)", EnvDSN)
	}
	return dsn
}

// DSN creates a new, empty schema in the test database, drops it (with everything in
// it) when tb ends, and returns a DSN whose search_path is that schema: every
// connection opened with it sees only the tables of this test. It skips or fails tb as
// [BaseDSN] does.
func DSN(tb testing.TB) string {
	tb.Helper()
	base := BaseDSN(tb)
	schema := newSchemaName()
	exec(tb, base, `CREATE SCHEMA `+schema)
	tb.Cleanup(func() { exec(tb, base, `DROP SCHEMA `+schema+` CASCADE`) })
	dsn, err := WithParam(base, "search_path", schema)
	if err != nil {
		tb.Fatalf("%s: %v", EnvDSN, err)
	}
	return dsn
}

// WithParam returns dsn (a postgres:// URL or a key=value DSN) with the connection
// parameter key set to value. value must not need quoting in the key=value form.
func WithParam(dsn, key, value string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return strings.TrimSpace(dsn) + " " + key + "=" + value, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parse DSN: %w", redact(err))
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// newSchemaName returns "test_" and 16 random hex digits: a valid identifier that
// needs no quoting.
func newSchemaName() string {
	var b [8]byte
	rand.Read(b[:])
	return "test_" + hex.EncodeToString(b[:])
}

// exec runs sql, a statement without parameters (DDL), on a connection of its own. It
// does not use tb.Context, which has ended by the time Cleanup runs.
func exec(tb testing.TB, dsn, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("pgtest: connect to %s: %v", EnvDSN, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// redact drops the URL from a url.Error, which would repeat the password.
func redact(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
