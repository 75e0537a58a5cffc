-- The first schema of vroauth. Times are INTEGER Unix milliseconds, UTC.

CREATE TABLE users (
	id            TEXT    PRIMARY KEY,
	name          TEXT    NOT NULL,
	name_key      TEXT    NOT NULL UNIQUE, -- core.UserKey(name): lookups are case-insensitive
	password_hash TEXT    NOT NULL,
	role          TEXT    NOT NULL CHECK (role IN ('Administrator', 'PlanAuthor', 'PlanOperator')),
	disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE clients (
	id          TEXT    PRIMARY KEY,
	user_id     TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	secret_hash BLOB    NOT NULL,
	created_at  INTEGER NOT NULL,
	UNIQUE (id, user_id) -- the parent key of sessions (client_id, user_id)
) STRICT;

-- FindClientIDs: a user's clients, oldest first (rowid breaks ties).
CREATE INDEX clients_user_id ON clients (user_id, created_at);

-- A session is one access/refresh pair. Ending a session deletes its row, so nothing
-- revoked lingers; refreshed_at marks a spent refresh token, kept to detect reuse.
CREATE TABLE sessions (
	id                 TEXT    PRIMARY KEY,
	family_id          TEXT    NOT NULL,
	user_id            TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	client_id          TEXT,   -- NULL for a user's own session
	access_hash        BLOB    NOT NULL UNIQUE,
	refresh_hash       BLOB    NOT NULL UNIQUE,
	access_expires_at  INTEGER NOT NULL,
	refresh_expires_at INTEGER NOT NULL,
	refreshed_at       INTEGER, -- NULL until the refresh token is spent
	created_at         INTEGER NOT NULL,
	-- A client's session belongs to the client's owner; deleting the client ends it.
	FOREIGN KEY (client_id, user_id) REFERENCES clients (id, user_id) ON DELETE CASCADE
) STRICT;

CREATE INDEX sessions_family_id ON sessions (family_id);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_client_id ON sessions (client_id);
CREATE INDEX sessions_refresh_expires_at ON sessions (refresh_expires_at);
