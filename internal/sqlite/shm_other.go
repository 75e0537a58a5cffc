//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlite

// mapShm returns nil where the WAL index is not mapped: DB.Revision then reads the
// revision from the database on every call.
func mapShm(string) *shm { return nil }
