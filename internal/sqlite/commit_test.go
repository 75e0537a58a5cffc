package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/vroauth/vroauth/internal/core"
	"github.com/vroauth/vroauth/internal/sqlite"
)

// TestKillGroupCommit checks that every write acknowledged to one of many concurrent
// writers, whose commits the database groups, is in the database after the process
// is killed (SIGKILL, no Close) in the middle of writing.
func TestKillGroupCommit(t *testing.T) {
	if path := os.Getenv("VROAUTH_SQLITE_GROUP_KILL_CHILD"); path != "" {
		groupKillChild(path)
		return
	}
	path := tempPath(t)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestKillGroupCommit$")
	cmd.Env = append(os.Environ(), "VROAUTH_SQLITE_GROUP_KILL_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const want = 300 // acknowledged writes to read before the kill
	var acked []string
	sc := bufio.NewScanner(out)
	for len(acked) < want && sc.Scan() {
		name, ok := strings.CutPrefix(sc.Text(), "created ")
		if !ok {
			t.Fatalf("child said %q; want created <user>", sc.Text())
		}
		acked = append(acked, name)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if len(acked) < want {
		t.Fatalf("child acknowledged %d writes before it stopped; want %d", len(acked), want)
	}
	db := MustOpen(t, path, nil)
	for _, name := range acked {
		if _, err := db.FindUserByName(t.Context(), name); err != nil {
			t.Errorf("FindUserByName(%q) after kill -9 = %v; want the acknowledged user", name, err)
		}
	}
}

// groupKillChild creates users from 32 goroutines, printing each one once its
// creation returned, until it is killed.
func groupKillChild(path string) {
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := 0; ; i++ {
				u := &core.User{ID: core.NewID(), Name: fmt.Sprintf("user%d-%d", g, i), PasswordHash: "h", Role: core.RolePlanAuthor}
				if err := db.CreateUser(context.Background(), u); err != nil {
					fmt.Println("create:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Println("created", u.Name)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func BenchmarkCreateSessionParallel(b *testing.B) {
	db := MustOpen(b, tempPath(b), nil)
	u := mustCreateUser(b, db, "alice")
	ctx := b.Context()
	b.SetParallelism(32) // 64 writers on 2 CPUs, as under the load test
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := db.CreateSession(ctx, newSession(u, ""), false); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
