-- The revision counts the writes that can end a live access token or change what it
-- grants: a session deleted (logout, revocation, refresh-token reuse, a single-session
-- login, the purge, and the cascades of deleting a client or a user), a session's
-- token, owner or expiry changed, a user changed (role, disabled, password) or deleted,
-- a client changed or deleted. Triggers bump it in the same transaction as the write,
-- whichever program makes it (the server, the users command, a hand-written
-- statement), so that a cache of verified tokens can tell from this one row that
-- nothing it holds was revoked (see DB.Revision).

CREATE TABLE revision (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n  INTEGER NOT NULL
) STRICT;

INSERT INTO revision (id, n) VALUES (1, 0);

CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
BEGIN
	UPDATE revision SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER sessions_changed
AFTER UPDATE OF id, family_id, user_id, client_id, access_hash, access_expires_at ON sessions
BEGIN
	UPDATE revision SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER users_changed AFTER UPDATE ON users
BEGIN
	UPDATE revision SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER users_deleted AFTER DELETE ON users
BEGIN
	UPDATE revision SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER clients_changed AFTER UPDATE ON clients
BEGIN
	UPDATE revision SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER clients_deleted AFTER DELETE ON clients
BEGIN
	UPDATE revision SET n = n + 1 WHERE id = 1;
END;
