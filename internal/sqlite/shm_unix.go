//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlite

import (
	"os"
	"runtime"
	"syscall"
)

// mapShm maps the first page of the database's WAL index (the -shm file) read-only,
// or returns nil if it cannot. The mapping lives until the returned value is garbage:
// unmapping it at Close could pull it from under a reader still running.
func mapShm(dbPath string) *shm {
	f, err := os.Open(dbPath + "-shm")
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := syscall.Mmap(int(f.Fd()), 0, os.Getpagesize(), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	m := &shm{data: data}
	runtime.AddCleanup(m, func(b []byte) { syscall.Munmap(b) }, data)
	return m
}
