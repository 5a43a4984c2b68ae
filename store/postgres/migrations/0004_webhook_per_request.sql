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

-- The number of pending webhooks of each owner that has any, kept by the trigger below: a
-- registration reads its owner's count, one row, however many it has.
CREATE TABLE webhook_owners (
	owner   text   PRIMARY KEY,
	pending bigint NOT NULL CHECK (pending > 0)
);

INSERT INTO webhook_owners (owner, pending)
	SELECT owner, count(*) FROM webhooks WHERE state = 'pending' GROUP BY owner;

CREATE FUNCTION webhook_owners_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		IF NEW.state = 'pending' THEN
			INSERT INTO webhook_owners (owner, pending) VALUES (NEW.owner, 1)
				ON CONFLICT (owner) DO UPDATE SET pending = webhook_owners.pending + 1;
		END IF;
	ELSIF OLD.state = 'pending' AND NEW.state <> 'pending' THEN
		DELETE FROM webhook_owners WHERE owner = OLD.owner AND pending = 1;
		UPDATE webhook_owners SET pending = pending - 1 WHERE owner = OLD.owner;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER webhooks_owner_count AFTER INSERT OR UPDATE OF state ON webhooks
	FOR EACH ROW EXECUTE FUNCTION webhook_owners_count();
