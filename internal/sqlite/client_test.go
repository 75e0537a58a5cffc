package sqlite_test

import (
	"testing"

	"github.com/vroauth/vroauth/internal/core"
)

func BenchmarkFindClient(b *testing.B) {
	db := MustOpen(b, tempPath(b), nil)
	u := mustCreateUser(b, db, "alice")
	ids := make([]string, 1000)
	for i := range ids {
		c := &core.Client{ID: core.NewID(), UserID: u.ID, SecretHash: core.HashToken(core.NewToken())}
		if err := db.CreateClient(b.Context(), c); err != nil {
			b.Fatal(err)
		}
		ids[i] = c.ID
	}
	ctx := b.Context()
	i := 0
	for b.Loop() {
		if _, err := db.FindClient(ctx, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
