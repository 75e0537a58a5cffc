package sqlite_test

import (
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/sqlite"
)

// mustCreateUser stores a user for a benchmark.
func mustCreateUser(tb testing.TB, db *sqlite.DB, name string) *core.User {
	tb.Helper()
	u := &core.User{ID: core.NewID(), Name: name, PasswordHash: "h", Role: core.RolePlanAuthor}
	if err := db.CreateUser(tb.Context(), u); err != nil {
		tb.Fatalf("CreateUser = %v", err)
	}
	return u
}

// newSession returns an unstored session of u with fresh token hashes.
func newSession(u *core.User, clientID string) *core.Session {
	now := time.Now()
	id := core.NewID()
	return &core.Session{ID: id, FamilyID: id, UserID: u.ID, ClientID: clientID,
		AccessHash: core.HashToken(core.NewToken()), RefreshHash: core.HashToken(core.NewToken()),
		AccessExpiresAt: now.Add(15 * time.Minute), RefreshExpiresAt: now.Add(2 * time.Hour)}
}

// mustCreateSessions stores n sessions of u and returns their access token hashes.
func mustCreateSessions(tb testing.TB, db *sqlite.DB, u *core.User, n int) [][]byte {
	tb.Helper()
	hashes := make([][]byte, n)
	for i := range hashes {
		s := newSession(u, "")
		if err := db.CreateSession(tb.Context(), s, false); err != nil {
			tb.Fatalf("CreateSession = %v", err)
		}
		hashes[i] = s.AccessHash
	}
	return hashes
}

func BenchmarkFindSessionByAccess(b *testing.B) {
	db := MustOpen(b, tempPath(b), nil)
	hashes := mustCreateSessions(b, db, mustCreateUser(b, db, "alice"), 1000)
	ctx := b.Context()
	i := 0
	for b.Loop() {
		if _, err := db.FindSessionByAccess(ctx, hashes[i%len(hashes)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkFindSessionByAccessParallel(b *testing.B) {
	db := MustOpen(b, tempPath(b), nil)
	hashes := mustCreateSessions(b, db, mustCreateUser(b, db, "alice"), 1000)
	ctx := b.Context()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := db.FindSessionByAccess(ctx, hashes[i%len(hashes)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkCreateSession(b *testing.B) {
	db := MustOpen(b, tempPath(b), nil)
	u := mustCreateUser(b, db, "alice")
	ctx := b.Context()
	for b.Loop() {
		if err := db.CreateSession(ctx, newSession(u, ""), false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRotateSession(b *testing.B) {
	db := MustOpen(b, tempPath(b), nil)
	u := mustCreateUser(b, db, "alice")
	ctx := b.Context()
	s := newSession(u, "")
	if err := db.CreateSession(ctx, s, false); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		next := newSession(u, "")
		if _, err := db.RotateSession(ctx, s.RefreshHash, next, false); err != nil {
			b.Fatal(err)
		}
		s = next
	}
}
