package sqlite

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
)

// Revision returns the database's revision: a number that a trigger bumps in the same
// transaction as every write that can end a live access token or change what it
// grants (see migration/00000002_revision.sql), whichever process makes the write. A
// token verified at revision r, and still unexpired, is still valid for as long as
// Revision returns r: a cache of verified tokens can trust its entries without asking
// the database each time, and still see a revocation at once, also one made by another
// process sharing the file.
//
// While nothing at all has committed to the database since the last call, Revision
// costs a read of shared memory: every commit in WAL mode, by any connection of any
// process, updates the header of the WAL index (the -shm file, whose format SQLite
// documents and keeps stable), before the commit returns. When the header has changed,
// or cannot be read (Memory, other systems), Revision reads the revision row.
func (db *DB) Revision(ctx context.Context) (uint64, error) {
	if db.shm == nil || db.closed.Load() {
		return db.queryRevision(ctx)
	}
	hdr := db.shm.header()
	if st := db.rev.Load(); st != nil && st.hdr == hdr {
		return st.n, nil
	}
	return db.refreshRevision(ctx)
}

// refreshRevision reads the revision row and remembers it with the WAL-index header
// read just before, so that callers that find the same header need no query. One
// caller queries at a time; the others wait and take its answer.
func (db *DB) refreshRevision(ctx context.Context) (uint64, error) {
	db.revMu.Lock()
	defer db.revMu.Unlock()
	hdr := db.shm.header() // before the query: a commit after it changes the header
	if st := db.rev.Load(); st != nil && st.hdr == hdr {
		return st.n, nil
	}
	n, err := db.queryRevision(ctx)
	if err != nil {
		return 0, err
	}
	db.rev.Store(&revState{hdr: hdr, n: n})
	return n, nil
}

func (db *DB) queryRevision(ctx context.Context) (uint64, error) {
	var n int64
	err := reader{db.read}.QueryRowContext(ctx, `SELECT n FROM revision WHERE id = 1`).Scan(&n)
	return uint64(n), formatError("read revision", err)
}

// revState is a revision and the WAL-index header under which it was read.
type revState struct {
	hdr shmHeader
	n   uint64
}

// revision is the state of DB.Revision.
type revision struct {
	shm    *shm // nil: no shared memory to watch
	rev    atomic.Pointer[revState]
	revMu  sync.Mutex
	closed atomic.Bool
}

// shm is the mapped start of the WAL index.
type shm struct {
	data []byte
}

// shmHeader is the first copy of the WAL-index header (SQLite's WalIndexHdr): version,
// change counter, page size, last frame, page count, checksums and salts. Every commit
// changes it.
type shmHeader [48]byte

// header returns the current header. A read that overlaps a commit may mix old and new
// bytes; it then differs from both, which only costs a query.
func (m *shm) header() shmHeader {
	var h shmHeader
	copy(h[:], m.data[:len(h)])
	return h
}

// walIndexVersion is the iVersion of the WAL-index header that SQLite has written
// since 3.7.0.
const walIndexVersion = 3007000

// watchShm maps the WAL index of an on-disk database after its migrations have run (so
// the index exists and stays: DB's own connections keep it open), and keeps the
// mapping only if its header is one this file knows.
func (db *DB) watchShm() {
	if db.path == Memory {
		return
	}
	m := mapShm(db.path)
	if m == nil || len(m.data) < 2*len(shmHeader{}) {
		return
	}
	h := m.header()
	isInit := h[12] == 1
	if binary.NativeEndian.Uint32(h[0:4]) != walIndexVersion || !isInit {
		return
	}
	db.shm = m
}
