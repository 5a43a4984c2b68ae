-- One webhook per request: a batch's callback carries all its entries in one POST. Each
-- webhook has an owner (an API key or a client address), whose pending webhooks are capped
-- and delivered in turn with other owners'. A webhook of before becomes one of its single
-- entry, owned by '' (they were registered before owners were recorded), delivered as before.
CREATE TABLE webhooks_new (
	id         INTEGER PRIMARY KEY,
	owner      TEXT    NOT NULL,                          -- "key:NAME", "ip:ADDRESS", or ''
	url        TEXT    NOT NULL,
	entries    TEXT    NOT NULL,                          -- JSON array of log indexes, in the request's order
	last_entry INTEGER NOT NULL CHECK (last_entry >= 0),  -- the greatest of them: due once it is confirmed
	batch      INTEGER NOT NULL DEFAULT 0 CHECK (batch IN (0, 1)), -- the body lists the timestamps
	created_ms INTEGER NOT NULL,
	state      TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts   INTEGER NOT NULL DEFAULT 0,
	next_ms    INTEGER NOT NULL,                          -- no attempt before then
	done_ms    INTEGER,                                   -- when delivered or given up
	last_error TEXT    NOT NULL DEFAULT ''
) STRICT;

INSERT INTO webhooks_new (id, owner, url, entries, last_entry, batch, created_ms, state, attempts, next_ms, done_ms, last_error)
	SELECT id, '', url, json_array(entry), entry, 0, created_ms, state, attempts, next_ms, done_ms, last_error
	FROM webhooks;

DROP TABLE webhooks;
ALTER TABLE webhooks_new RENAME TO webhooks;

-- The pending webhooks by their last entry: those below the confirmed size are the ones to
-- deliver, and webhooks waiting for their proof, however many, are never scanned.
CREATE INDEX webhooks_pending ON webhooks (last_entry) WHERE state = 'pending';
-- The pending webhooks of an owner, counted against its cap.
CREATE INDEX webhooks_owner_pending ON webhooks (owner) WHERE state = 'pending';
