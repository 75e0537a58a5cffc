package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/sqlite"
	"github.com/vroauth/vroauth/internal/storetest"
)

// MustOpen opens the database at path with the clock now (time.Now if nil) and closes
// it when tb ends.
func MustOpen(tb testing.TB, path string, now core.Clock) *sqlite.DB {
	tb.Helper()
	var opts []sqlite.Option
	if now != nil {
		opts = append(opts, sqlite.WithClock(now))
	}
	db, err := sqlite.Open(tb.Context(), path, opts...)
	if err != nil {
		tb.Fatalf("Open(%q) = %v; want nil", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close() = %v; want nil", err)
		}
	})
	return db
}

// tempPath returns the path of a new database file in a temporary directory.
func tempPath(tb testing.TB) string {
	return filepath.Join(tb.TempDir(), "vroauth.db")
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now core.Clock) core.Store {
		return MustOpen(t, tempPath(t), now)
	})
}

func TestStoreMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now core.Clock) core.Store {
		return MustOpen(t, sqlite.Memory, now)
	})
}

func TestOpen(t *testing.T) {
	t.Run("ErrInvalidPath", func(t *testing.T) {
		for _, path := range []string{"", "a.db?mode=ro"} {
			if db, err := sqlite.Open(t.Context(), path); err == nil {
				db.Close()
				t.Errorf("Open(%q) = nil error; want an error", path)
			}
		}
	})
	t.Run("ErrNoDirectory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "vroauth.db")
		if db, err := sqlite.Open(t.Context(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q) = nil error; want an error", path)
		}
	})
}

// TestReopen checks that data survives Close and Open, and that reopening applies no
// migration twice.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := tempPath(t)
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	u := &core.User{ID: core.NewID(), Name: `CORP\JSmith`, PasswordHash: "h", Role: core.RolePlanAuthor}
	c := &core.Client{ID: core.NewID(), UserID: u.ID, SecretHash: core.HashToken("secret")}
	s := newSession(u, c.ID)
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser = %v", err)
	}
	if err := db.CreateClient(ctx, c); err != nil {
		t.Fatalf("CreateClient = %v", err)
	}
	if err := db.CreateSession(ctx, s, false); err != nil {
		t.Fatalf("CreateSession = %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	for range 2 {
		db = MustOpen(t, path, nil)
		if n, err := db.CountUsers(ctx); err != nil || n != 1 {
			t.Errorf("CountUsers after reopen = %d, %v; want 1, nil", n, err)
		}
		if got, err := db.FindClient(ctx, c.ID); err != nil || got.Owner.Name != u.Name {
			t.Errorf("FindClient after reopen = %v, %v; want the client of %s", got, err, u.Name)
		}
		if got, err := db.FindSessionByAccess(ctx, s.AccessHash); err != nil || got.ClientID != c.ID {
			t.Errorf("FindSessionByAccess after reopen = %v, %v; want the session of client %s", got, err, c.ID)
		}
		db.Close()
	}
}

func TestOpenFileMode(t *testing.T) {
	path := tempPath(t)
	MustOpen(t, path, nil)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode of a new database file = %v; want -rw-------", mode)
	}
}

// TestSharedFile opens one file twice, as two servers sharing a database would: a
// revocation through one is seen at once through the other, and rotations of one
// refresh token through both serialize (BEGIN IMMEDIATE with busy_timeout) so that
// exactly one succeeds and none fails on a lock.
func TestSharedFile(t *testing.T) {
	ctx := t.Context()
	path := tempPath(t)
	a, b := MustOpen(t, path, nil), MustOpen(t, path, nil)
	u := mustCreateUser(t, a, "alice")
	s := newSession(u, "")
	if err := a.CreateSession(ctx, s, false); err != nil {
		t.Fatalf("CreateSession = %v", err)
	}
	if _, err := b.FindSessionByAccess(ctx, s.AccessHash); err != nil {
		t.Fatalf("FindSessionByAccess through the other handle = %v; want nil", err)
	}

	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		db := []*sqlite.DB{a, b}[i%2]
		wg.Go(func() { _, errs[i] = db.RotateSession(ctx, s.RefreshHash, newSession(u, ""), false) })
	}
	wg.Wait()
	counts := map[string]int{}
	for _, err := range errs {
		counts[core.ErrorCode(err)]++
	}
	if counts[""] != 1 || counts[""]+counts[core.EREUSED]+counts[core.ENOTFOUND] != n {
		t.Errorf("%d RotateSession through two handles: outcomes by error code %v; want 1 success, the rest %q or %q",
			n, counts, core.EREUSED, core.ENOTFOUND)
	}

	s = newSession(u, "")
	if err := a.CreateSession(ctx, s, false); err != nil {
		t.Fatalf("CreateSession = %v", err)
	}
	if err := b.RevokeFamily(ctx, s.FamilyID); err != nil {
		t.Fatalf("RevokeFamily = %v", err)
	}
	if _, err := a.FindSessionByAccess(ctx, s.AccessHash); core.ErrorCode(err) != core.ENOTFOUND {
		t.Errorf("FindSessionByAccess after RevokeFamily through the other handle = %v; want %q", err, core.ENOTFOUND)
	}
}

// TestKill checks that a write acknowledged before the process is killed (SIGKILL,
// no Close) is in the database when it is opened again.
func TestKill(t *testing.T) {
	if path := os.Getenv("VROAUTH_SQLITE_KILL_CHILD"); path != "" {
		killChild(path)
		return
	}
	path := tempPath(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestKill$")
	cmd.Env = append(os.Environ(), "VROAUTH_SQLITE_KILL_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	cmd.Process.Kill()
	cmd.Wait()
	name, ok := strings.CutPrefix(strings.TrimSpace(line), "created ")
	if err != nil || !ok {
		t.Fatalf("child said %q, %v; want created <user>", line, err)
	}
	db := MustOpen(t, path, nil)
	if _, err := db.FindUserByName(t.Context(), name); err != nil {
		t.Errorf("FindUserByName(%q) after kill -9 = %v; want nil", name, err)
	}
}

// killChild creates users in the database at path, reports the first, and keeps
// writing until it is killed.
func killChild(path string) {
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		u := &core.User{ID: core.NewID(), Name: fmt.Sprintf("user%d", i), PasswordHash: "h", Role: core.RolePlanAuthor}
		if err := db.CreateUser(context.Background(), u); err != nil {
			fmt.Println("create:", err)
			os.Exit(1)
		}
		if i == 0 {
			fmt.Println("created", u.Name)
		}
	}
}
