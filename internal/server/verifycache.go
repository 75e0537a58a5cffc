package server

import (
	"context"
	"sync"
	"time"

	"github.com/vroauth/vroauth/auth"
	"github.com/vroauth/vroauth/internal/core"
)

// Bounds of the verification cache: about 300 bytes a token, 400 a client.
const (
	maxCachedTokens  = 16384
	maxCachedClients = 4096
)

// verifyCache remembers what the store confirmed about access tokens and client
// accounts, so that the hot paths skip a query: the bearer check of every API call
// and the client lookup of every client_credentials grant. It works only with a store
// that implements core.Revisioner, and trusts an entry only while the store's
// revision is the one read before the entry was fetched: every write that could end a
// token or change a principal (logout, revocation, refresh-token reuse, deleting a
// client, disabling, changing or deleting a user), in this process or in any other
// sharing the database, changes the revision before it is acknowledged, so the next
// request after it finds the cache empty. A token's entry also ends when its access
// token expires. Unknown tokens and clients are never remembered, so the cache holds
// only what exists; it is bounded, and forgets arbitrary entries when full.
type verifyCache struct {
	revs core.Revisioner // nil: no cache
	now  core.Clock

	mu      sync.RWMutex
	rev     uint64 // the revision of every entry
	tokens  map[[32]byte]cachedToken
	clients map[string]*core.Client
}

type cachedToken struct {
	p       *auth.Principal // shared with every request that presents the token; read-only
	expires int64           // access-token expiry, Unix nanoseconds
}

// newVerifyCache returns the cache for store; it caches nothing unless store
// implements core.Revisioner.
func newVerifyCache(store core.Store, now core.Clock) *verifyCache {
	c := &verifyCache{now: now, tokens: map[[32]byte]cachedToken{}, clients: map[string]*core.Client{}}
	c.revs, _ = store.(core.Revisioner)
	return c
}

// revision returns the store's current revision, and false when entries cannot be
// trusted or made (no Revisioner, or it failed).
func (c *verifyCache) revision(ctx context.Context) (uint64, bool) {
	if c.revs == nil {
		return 0, false
	}
	rev, err := c.revs.Revision(ctx)
	return rev, err == nil
}

// principal returns the principal remembered for the token key at revision rev, or nil.
func (c *verifyCache) principal(key [32]byte, rev uint64) *auth.Principal {
	c.mu.RLock()
	e, ok := c.tokens[key]
	current := c.rev == rev
	c.mu.RUnlock()
	if !ok || !current || c.now().UnixNano() >= e.expires {
		return nil
	}
	return e.p
}

// putPrincipal remembers that the store confirmed the token key, whose access token
// expires at expires, as p when its revision was rev.
func (c *verifyCache) putPrincipal(key [32]byte, rev uint64, p *auth.Principal, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at(rev)
	if _, ok := c.tokens[key]; !ok && len(c.tokens) >= maxCachedTokens {
		evictSome(c.tokens)
	}
	c.tokens[key] = cachedToken{p: p, expires: expires.UnixNano()}
}

// client returns the client remembered under id at revision rev, or nil.
func (c *verifyCache) client(id string, rev uint64) *core.Client {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.rev != rev {
		return nil
	}
	return c.clients[id]
}

// putClient remembers that the store returned cl, with its owner, at revision rev.
func (c *verifyCache) putClient(cl *core.Client, rev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at(rev)
	if _, ok := c.clients[cl.ID]; !ok && len(c.clients) >= maxCachedClients {
		evictSome(c.clients)
	}
	c.clients[cl.ID] = cl
}

// at moves the cache to revision rev, forgetting every entry of another revision. A
// request that read the revision before a change and stores its answer after it moves
// the cache back to the old revision, whose entries no request that reads the revision
// afterwards trusts. c.mu is held.
func (c *verifyCache) at(rev uint64) {
	if c.rev != rev {
		c.rev = rev
		clear(c.tokens)
		clear(c.clients)
	}
}

// evictSome forgets about an eighth of m's entries, arbitrary ones.
func evictSome[K comparable, V any](m map[K]V) {
	n := len(m) / 8
	for k := range m {
		if n <= 0 {
			return
		}
		delete(m, k)
		n--
	}
}

// findClient is the store's FindClient behind the cache.
func (s *Server) findClient(ctx context.Context, id string) (*core.Client, error) {
	rev, ok := s.cache.revision(ctx)
	if ok {
		if cl := s.cache.client(id, rev); cl != nil {
			return cl, nil
		}
	}
	cl, err := s.store.FindClient(ctx, id)
	if err == nil && ok {
		s.cache.putClient(cl, rev)
	}
	return cl, err
}
