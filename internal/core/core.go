// Package core is the domain vocabulary of the vroauth reference server: users, client
// accounts and sessions, the store interfaces that the server consumes and the storage
// backends implement, the error codes they share, and the secret handling every part
// must agree on. It imports nothing of the project, and neither database/sql nor
// net/http.
package core

import (
	"context"
	"time"
)

// Store is everything the server needs from a storage backend. Each backend
// (internal/sqlite, internal/postgres) implements it and passes the shared conformance
// suite in internal/storetest.
type Store interface {
	UserStore
	ClientStore
	SessionStore
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// Clock returns the current time; stores and the server take one so that tests can
// move time.
type Clock func() time.Time
