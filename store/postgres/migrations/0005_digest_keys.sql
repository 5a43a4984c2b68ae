-- The digest index keeps each digest's key and entry, not the digest: the entry holds the
-- digest, and a lookup reads it there to confirm a key's match (keys of different digests
-- agree with a chance of about n/2^64). A row takes half the room, and indexing writes
-- half as much. Rows written before keep their bytes until the table is rewritten.
ALTER TABLE digests DROP COLUMN digest;
