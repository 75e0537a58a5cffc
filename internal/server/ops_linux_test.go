//go:build linux

package server_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vroauth/vroauth/internal/server"
)

// fOFDSetLK is F_OFD_SETLK: an open file description lock, which conflicts with the
// fcntl locks SQLite takes even when both are in this process.
const fOFDSetLK = 37

// TestReadyzSQLiteLocked makes a real SQLite database unreachable: a lock on the read
// marks of its WAL index (bytes 123 to 127 of the -shm file, as
// https://sqlite.org/walformat.html lays them out), as a stuck process would hold it,
// stops every reader; SQLite retries for seconds, whatever the context says. /readyz
// answers 503 within its timeout all the same, and 200 once the lock is gone.
func TestReadyzSQLiteLocked(t *testing.T) {
	SkipUnlessBackend(t, "sqlite")
	path := filepath.Join(t.TempDir(), "vroauth.db")
	env, _ := serveOps(t, opsOptions{path: path, set: func(c *server.Config) { c.ProbeTimeout = 100 * time.Millisecond }})
	if got := readyStatus(t, env); got != 200 {
		t.Fatalf("GET /readyz = %d; want 200", got)
	}
	shm, err := os.OpenFile(path+"-shm", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer shm.Close()
	lock := func(typ int16) {
		t.Helper()
		lk := syscall.Flock_t{Type: typ, Whence: 0, Start: 123, Len: 5}
		if err := syscall.FcntlFlock(shm.Fd(), fOFDSetLK, &lk); err != nil {
			t.Fatalf("lock the read marks: %v", err)
		}
	}
	lock(syscall.F_WRLCK)
	if got := readyStatus(t, env); got != 503 {
		t.Errorf("GET /readyz with the readers locked out = %d; want 503", got)
	}
	lock(syscall.F_UNLCK)
	deadline := time.Now().Add(time.Minute)
	for readyStatus(t, env) != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz did not answer 200 within a minute of the lock's end")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
