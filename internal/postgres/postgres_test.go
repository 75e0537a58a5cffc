package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/postgres"
	"github.com/vroauth/vroauth/internal/postgres/pgtest"
	"github.com/vroauth/vroauth/internal/storetest"
)

// MustOpen opens a store on dsn with the clock now (time.Now if nil) and a small pool,
// and closes it when tb ends.
func MustOpen(tb testing.TB, dsn string, now core.Clock, opts ...postgres.Option) *postgres.DB {
	tb.Helper()
	if now != nil {
		opts = append([]postgres.Option{postgres.WithClock(now)}, opts...)
	}
	opts = append([]postgres.Option{postgres.WithMaxConns(4)}, opts...)
	db, err := postgres.Open(tb.Context(), dsn, opts...)
	if err != nil {
		tb.Fatalf("Open = %v; want nil", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close() = %v; want nil", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	pgtest.BaseDSN(t)
	storetest.Run(t, func(t *testing.T, now core.Clock) core.Store {
		return MustOpen(t, pgtest.DSN(t), now)
	})
}

func TestOpen(t *testing.T) {
	t.Run("ConcurrentMigrations", testOpenConcurrent)
	t.Run("Reopen", testOpenReopen)
	t.Run("ErrInvalidOption", testOpenErrInvalidOption)
	t.Run("ErrUnavailable", testOpenErrUnavailable)
}

// testOpenConcurrent opens one empty schema from several processes' worth of pools at
// once: every Open succeeds and each migration is applied once.
func testOpenConcurrent(t *testing.T) {
	const n = 4
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			db, err := postgres.Open(t.Context(), dsn, postgres.WithMaxConns(2))
			if errs[i] = err; err == nil {
				errs[i] = db.Ping(t.Context())
				db.Close()
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Open #%d = %v; want nil", i, err)
		}
	}
	checkMigrations(t, dsn)
}

// testOpenReopen checks that data survives Close and Open, and that reopening applies
// no migration twice.
func testOpenReopen(t *testing.T) {
	dsn := pgtest.DSN(t)
	db := MustOpen(t, dsn, nil)
	u := &core.User{ID: core.NewID(), Name: `CORP\JSmith`, PasswordHash: "h", Role: core.RolePlanAuthor}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser = %v", err)
	}
	db.Close()
	db = MustOpen(t, dsn, nil)
	if got, err := db.FindUserByName(t.Context(), u.Name); err != nil || got.ID != u.ID {
		t.Errorf("FindUserByName after reopening = %v, %v; want %s", got, err, u.ID)
	}
	checkMigrations(t, dsn)
}

// checkMigrations fails the test unless the schema of dsn records each migration
// exactly once.
func checkMigrations(t *testing.T, dsn string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(t.Context(), `SELECT name, count(*) FROM migrations GROUP BY name ORDER BY name`)
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		Name  string
		Count int
	}])
	if err != nil || len(counts) == 0 || counts[0].Name != "00000001_init.sql" {
		t.Fatalf("migrations = %v, %v; want 00000001_init.sql first", counts, err)
	}
	for _, c := range counts {
		if c.Count != 1 {
			t.Errorf("migration %s recorded %d times; want 1", c.Name, c.Count)
		}
	}
}

// testOpenErrInvalidOption needs no database: Open checks its options first.
func testOpenErrInvalidOption(t *testing.T) {
	const dsn = "postgres://vroauth@127.0.0.1:1/vroauth?sslmode=disable"
	tests := []struct {
		name string
		opts []postgres.Option
	}{
		{"NilClock", []postgres.Option{postgres.WithClock(nil)}},
		{"NoConns", []postgres.Option{postgres.WithMaxConns(0)}},
		{"MinAboveMax", []postgres.Option{postgres.WithMaxConns(2), postgres.WithMinConns(3)}},
		{"NegativeMin", []postgres.Option{postgres.WithMinConns(-1)}},
		{"NoLifetime", []postgres.Option{postgres.WithMaxConnLifetime(0)}},
	}
	for _, tt := range tests {
		if db, err := postgres.Open(t.Context(), dsn, tt.opts...); err == nil {
			db.Close()
			t.Errorf("Open(%s) = nil error; want an error", tt.name)
		}
	}
	if db, err := postgres.Open(t.Context(), "postgres://%zz"); err == nil {
		db.Close()
		t.Errorf("Open(malformed DSN) = nil error; want an error")
	}
}

// testOpenErrUnavailable opens a database that does not answer (nothing listens on
// port 1): EUNAVAILABLE.
func testOpenErrUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, "postgres://vroauth@127.0.0.1:1/vroauth?sslmode=disable&connect_timeout=5")
	if err == nil {
		db.Close()
		t.Fatal("Open(closed port) = nil error; want an error")
	}
	if code := core.ErrorCode(err); code != core.EUNAVAILABLE {
		t.Errorf("Open(closed port) error code %q (err %v); want %q", code, err, core.EUNAVAILABLE)
	}
}
