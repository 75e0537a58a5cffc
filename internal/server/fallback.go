package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vroauth/vroauth/internal/core"
)

// DefaultOutageGrace is how long after its last successful check an access token is
// still accepted while the database is unavailable.
const DefaultOutageGrace = 10 * time.Second

// maxKnown bounds the sessions lastKnown remembers (about 300 bytes each).
const maxKnown = 10000

// lastKnown remembers the sessions of the access tokens this server verified in the
// last few seconds (looked up, or confirmed by the verification cache's revision
// check: see confirm), so that a brief database outage does not turn every authenticated
// request into a 500: while the store reports EUNAVAILABLE, and only then, a token
// the database confirmed within the grace period, and that has not expired, is
// accepted as it was then. While the database answers, its answer is final: the cache
// never skips a revocation check the database can make, and a token the database no
// longer knows is forgotten at once. Logout, revocation and deletion through this
// server forget their sessions too; a revocation made elsewhere (another instance, the
// users command) just before an outage can be missed for at most the grace period.
type lastKnown struct {
	grace time.Duration // <= 0: disabled
	now   core.Clock

	mu      sync.RWMutex
	entries map[[32]byte]*knownSession

	outage atomic.Bool // a fallback was logged and the database has not answered since
}

type knownSession struct {
	session  *core.Session
	verified atomic.Int64 // when the database last confirmed it, Unix nanoseconds
}

func newLastKnown(grace time.Duration, now core.Clock) *lastKnown {
	return &lastKnown{grace: grace, now: now, entries: map[[32]byte]*knownSession{}}
}

// findSessionByAccess is the store's FindSessionByAccess with the fallback: the one
// place Verify reads a session.
func (s *Server) findSessionByAccess(ctx context.Context, hash []byte) (*core.Session, error) {
	session, err := s.store.FindSessionByAccess(ctx, hash)
	k := s.known
	if k.grace <= 0 || len(hash) != 32 {
		return session, err
	}
	key := [32]byte(hash)
	switch core.ErrorCode(err) {
	case "":
		k.remember(key, session)
		if k.outage.Swap(false) {
			s.log.InfoContext(ctx, "the database answers again: tokens are checked against it")
		}
		return session, nil
	case core.EUNAVAILABLE:
		if known := k.recall(key); known != nil {
			s.metrics.fallbacks.Inc()
			if !k.outage.Swap(true) {
				s.log.WarnContext(ctx, "the database is unavailable: accepting access tokens verified in the last seconds",
					"grace", k.grace, "err", err)
			}
			return known, nil
		}
	case core.ENOTFOUND:
		k.drop(key)
	}
	return session, err
}

// remember records that the database confirmed session now.
func (k *lastKnown) remember(key [32]byte, session *core.Session) {
	now := k.now()
	e := &knownSession{session: session}
	e.verified.Store(now.UnixNano())
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.entries[key]; !ok && len(k.entries) >= maxKnown {
		k.evict(now)
	}
	k.entries[key] = e
}

// confirm records that the database confirmed the token under key now, by other means
// than a lookup (the verification cache's revision check): it keeps a token that is
// used often, and so rarely looked up, usable through an outage.
func (k *lastKnown) confirm(key [32]byte) {
	if k.grace <= 0 {
		return
	}
	k.mu.RLock()
	e := k.entries[key]
	k.mu.RUnlock()
	if e != nil {
		e.verified.Store(k.now().UnixNano())
	}
}

// evict removes a stale entry, or else an arbitrary one, looking at a few entries
// only, so that a full cache costs O(1) per insertion. k.mu is held.
func (k *lastKnown) evict(now time.Time) {
	var victim [32]byte
	n := 0
	for key, e := range k.entries {
		if n == 0 {
			victim = key
		}
		if !k.usable(e, now) {
			victim = key
			break
		}
		if n++; n == 8 {
			break
		}
	}
	delete(k.entries, victim)
}

// usable reports whether e may still stand in for the database at now.
func (k *lastKnown) usable(e *knownSession, now time.Time) bool {
	verified := time.Unix(0, e.verified.Load())
	return now.Before(verified.Add(k.grace)) && now.Before(e.session.AccessExpiresAt) && !now.Before(verified)
}

// recall returns the session remembered under key if it is still usable.
func (k *lastKnown) recall(key [32]byte) *core.Session {
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.entries[key]
	if !ok {
		return nil
	}
	if !k.usable(e, now) {
		delete(k.entries, key)
		return nil
	}
	return e.session
}

// drop forgets the entry under key.
func (k *lastKnown) drop(key [32]byte) {
	k.mu.Lock()
	delete(k.entries, key)
	k.mu.Unlock()
}

// forget removes the entries for which match reports true.
func (k *lastKnown) forget(match func([32]byte, *core.Session) bool) {
	if k.grace <= 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for key, e := range k.entries {
		if match(key, e.session) {
			delete(k.entries, key)
		}
	}
}

// forgetFamily forgets the sessions of a family this server ended.
func (k *lastKnown) forgetFamily(familyID string) {
	k.forget(func(_ [32]byte, s *core.Session) bool { return s.FamilyID == familyID })
}

// forgetClient forgets the sessions of a client this server deleted.
func (k *lastKnown) forgetClient(clientID string) {
	k.forget(func(_ [32]byte, s *core.Session) bool { return s.ClientID == clientID })
}
