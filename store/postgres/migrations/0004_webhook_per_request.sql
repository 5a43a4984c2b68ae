-- One webhook per request: a batch's callback carries all its entries in one POST. Each
-- webhook has an owner (an API key or a client address), whose pending webhooks are capped
-- and delivered in turn with other owners'. A webhook of before becomes one of its single
-- entry, owned by '' (they were registered before owners were recorded), delivered as before.
ALTER TABLE webhooks DROP CONSTRAINT webhooks_entry_url_key;
ALTER TABLE webhooks RENAME COLUMN entry TO last_entry; -- the greatest entry: due once it is confirmed
ALTER TABLE webhooks
	ADD COLUMN owner   text     NOT NULL DEFAULT '',     -- "key:NAME", "ip:ADDRESS", or ''
	ADD COLUMN entries bigint[],                         -- log indexes, in the request's order
	ADD COLUMN batch   boolean  NOT NULL DEFAULT false;  -- the body lists the timestamps
UPDATE webhooks SET entries = ARRAY[last_entry];
ALTER TABLE webhooks
	ALTER COLUMN entries SET NOT NULL,
	ALTER COLUMN owner DROP DEFAULT,
	ADD CHECK (cardinality(entries) > 0);

-- The pending webhooks of an owner, counted against its cap. (webhooks_pending, on
-- last_entry, keeps finding those whose proof is complete.)
CREATE INDEX webhooks_owner_pending ON webhooks (owner) WHERE state = 'pending';
