package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/sqlite"
)

// TestRevisionSharedFile checks that a revocation through another handle on the same
// file, as another server instance would make it, changes the revision at once, and
// that a login through it does not.
func TestRevisionSharedFile(t *testing.T) {
	ctx := t.Context()
	path := tempPath(t)
	a, b := MustOpen(t, path, nil), MustOpen(t, path, nil)
	u := mustCreateUser(t, a, "alice")
	s := newSession(u, "")
	if err := b.CreateSession(ctx, s, false); err != nil {
		t.Fatalf("CreateSession = %v", err)
	}
	before := mustRevision(t, a)
	if err := b.CreateSession(ctx, newSession(u, ""), false); err != nil {
		t.Fatalf("CreateSession = %v", err)
	}
	if got := mustRevision(t, a); got != before {
		t.Errorf("Revision() after a login through another handle = %d; want %d, unchanged", got, before)
	}
	if err := b.RevokeFamily(ctx, s.FamilyID); err != nil {
		t.Fatalf("RevokeFamily = %v", err)
	}
	if got := mustRevision(t, a); got == before {
		t.Errorf("Revision() after a revocation through another handle = %d; want a change from %d", got, before)
	}
}

// TestRevisionOtherProcess checks that a user disabled by another process, as the
// users command does it, changes the revision seen by this one at once.
func TestRevisionOtherProcess(t *testing.T) {
	if path := os.Getenv("VROAUTH_SQLITE_REVISION_CHILD"); path != "" {
		db, err := sqlite.Open(context.Background(), path)
		if err == nil {
			_, err = db.UpdateUser(context.Background(), "alice", disable())
		}
		if err != nil {
			fmt.Println("child:", err)
			os.Exit(1)
		}
		os.Exit(0) // no Close: as abrupt as a killed command
	}
	path := tempPath(t)
	db := MustOpen(t, path, nil)
	mustCreateUser(t, db, "alice")
	before := mustRevision(t, db)
	mustRevision(t, db) // a second read takes the path that reads no row
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRevisionOtherProcess$")
	cmd.Env = append(os.Environ(), "VROAUTH_SQLITE_REVISION_CHILD="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	if got := mustRevision(t, db); got == before {
		t.Errorf("Revision() after another process disabled a user = %d; want a change from %d", got, before)
	}
}

func mustRevision(t *testing.T, db *sqlite.DB) uint64 {
	t.Helper()
	n, err := db.Revision(t.Context())
	if err != nil {
		t.Fatalf("Revision() = %v; want nil", err)
	}
	return n
}

// disable is the update that disables a user.
func disable() core.UserUpdate {
	yes := true
	return core.UserUpdate{Disabled: &yes}
}

// BenchmarkRevision measures Revision while nothing commits: a read of the WAL index's
// header in shared memory.
func BenchmarkRevision(b *testing.B) {
	db := MustOpen(b, tempPath(b), nil)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.Revision(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
