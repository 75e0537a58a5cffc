package core

import (
	"context"
	"time"
)

// Client is a client account: machine credentials a user creates so that each
// application has its own session. It inherits its owner's role, live.
type Client struct {
	ID         string // lower-case GUID
	UserID     string // the owner
	SecretHash []byte // HMAC-SHA-256 of the secret under the server key (see SecretHasher)
	CreatedAt  time.Time

	// Owner is the owning user, filled in by FindClient so that the token endpoint needs
	// one lookup; nil elsewhere.
	Owner *User
}

// ClientStore stores client accounts.
type ClientStore interface {
	// CreateClient stores c, setting c.CreatedAt; c.ID, c.UserID and c.SecretHash must be
	// set. ENOTFOUND if the owner does not exist; ECONFLICT if the ID is taken.
	CreateClient(ctx context.Context, c *Client) error
	// FindClient returns the client with the given ID (lower-case GUID) with its Owner.
	// ENOTFOUND if there is none.
	FindClient(ctx context.Context, id string) (*Client, error)
	// FindClientIDs returns the IDs of the clients owned by userID, oldest first.
	FindClientIDs(ctx context.Context, userID string) ([]string, error)
	// DeleteClient deletes the client and every session of it, at once.
	// ENOTFOUND if there is none.
	DeleteClient(ctx context.Context, id string) error
}
