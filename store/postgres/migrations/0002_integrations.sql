-- API keys of integrations. Only the SHA-256 of each token is stored: the token itself is
-- shown once, when the key is created. A revoked key stays, so that its name is not reused.
CREATE TABLE api_keys (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name       text   NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
	token_hash bytea  NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	webhook    text   NOT NULL DEFAULT '', -- callback URL for the key's submissions; '' for none
	created_ms bigint NOT NULL,            -- Unix milliseconds
	revoked_ms bigint                      -- NULL while the key is valid
);

-- Webhooks: one row per entry and callback URL, POSTed once the entry's proof is complete,
-- retried with backoff until the receiver accepts it or the attempts run out.
CREATE TABLE webhooks (
	id         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	entry      bigint  NOT NULL CHECK (entry >= 0), -- log index
	url        text    NOT NULL,
	created_ms bigint  NOT NULL,
	state      text    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts   integer NOT NULL DEFAULT 0,
	next_ms    bigint  NOT NULL,                    -- no attempt before then
	done_ms    bigint,                              -- when delivered or given up
	last_error text    NOT NULL DEFAULT '',
	UNIQUE (entry, url)
);

-- The pending webhooks by entry: those below the confirmed size are the ones to deliver,
-- and webhooks waiting for their proof, however many, are never scanned.
CREATE INDEX webhooks_pending ON webhooks (entry) WHERE state = 'pending';
