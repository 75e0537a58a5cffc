package core

import "context"

// Revisioner is implemented by stores that can tell cheaply whether anything has
// happened that could end a live access token or change what it grants: a session
// ended (logout, revocation, refresh-token reuse), a client deleted, a user disabled,
// deleted or changed. The server caches what the store confirmed only while the
// revision stays the same; a store without this interface is asked every time.
type Revisioner interface {
	// Revision returns a number that changes with every such write, made through any
	// process sharing the store, before that write is acknowledged: two calls that return
	// the same number saw no such write between them.
	Revision(ctx context.Context) (uint64, error)
}
