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
-- The number of pending webhooks of each owner that has any, kept by the triggers below: a
-- registration reads its owner's count, one row, however many it has.
CREATE TABLE webhook_owners (
	owner   TEXT    PRIMARY KEY,
	pending INTEGER NOT NULL CHECK (pending > 0)
) STRICT, WITHOUT ROWID;

INSERT INTO webhook_owners (owner, pending)
	SELECT owner, count(*) FROM webhooks WHERE state = 'pending' GROUP BY owner;

CREATE TRIGGER webhooks_pending_added AFTER INSERT ON webhooks WHEN NEW.state = 'pending'
BEGIN
	INSERT INTO webhook_owners (owner, pending) VALUES (NEW.owner, 1)
		ON CONFLICT (owner) DO UPDATE SET pending = pending + 1;
END;

CREATE TRIGGER webhooks_pending_ended AFTER UPDATE OF state ON webhooks
	WHEN OLD.state = 'pending' AND NEW.state <> 'pending'
BEGIN
	DELETE FROM webhook_owners WHERE owner = OLD.owner AND pending = 1;
	UPDATE webhook_owners SET pending = pending - 1 WHERE owner = OLD.owner;
END;
