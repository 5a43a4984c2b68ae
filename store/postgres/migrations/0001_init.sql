-- The head of the log: one row, moved by every append with a compare-and-swap
-- (UPDATE … WHERE size = old), so that two writers can never both extend the log from
-- the same size. epoch is for fencing a deposed writer; nothing sets it yet.
CREATE TABLE log_head (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	size      bigint  NOT NULL CHECK (size >= 0),   -- entries in the log
	hashes    bigint  NOT NULL CHECK (hashes >= 0), -- stored Merkle hashes, merkle.StoredHashCount(size)
	epoch     bigint  NOT NULL DEFAULT 0
);
INSERT INTO log_head (size, hashes) VALUES (0, 0);

-- The entries, a row per append (split at every 65,536 entries): data is the
-- concatenation of count records of 56 bytes, digest (32) ‖ receive time in Unix
-- milliseconds (8, big-endian) ‖ nonce (16), for the entries first, first+1, ….
-- Stored uncompressed out of line (EXTERNAL): the records are random bytes that do not
-- compress, and a slice of an uncompressed value is read without reading the rest.
CREATE TABLE entry_batches (
	first bigint  PRIMARY KEY CHECK (first >= 0),
	count integer NOT NULL CHECK (count > 0),
	data  bytea   NOT NULL CHECK (length(data) = count * 56)
);
ALTER TABLE entry_batches ALTER COLUMN data SET STORAGE EXTERNAL;

-- The stored Merkle hashes (merkle.StoredHashIndex), a row per row of entry_batches:
-- data is the concatenation of the 32-byte hashes at storage indexes first, first+1, ….
CREATE TABLE hash_batches (
	first bigint PRIMARY KEY CHECK (first >= 0),
	data  bytea  NOT NULL CHECK (length(data) > 0 AND length(data) % 32 = 0)
);
ALTER TABLE hash_batches ALTER COLUMN data SET STORAGE EXTERNAL;

-- The digest index: each logged digest and the index of its first entry. Derived from
-- entry_batches and filled off the commit path, in large sorted chunks, by IndexDigests.
-- The B-tree is on key, the digest's first 8 bytes as a big-endian integer minus 2^63
-- (so that keys sort as digests do), not on the digest: its pages take 3 times as many
-- keys, and inserting random digests, which touches a page for each, goes about 1.6
-- times as fast at 5 million. A digest is in the table once; IndexDigests, the only
-- writer, sees to that.
CREATE TABLE digests (
	key    bigint NOT NULL,
	digest bytea  NOT NULL CHECK (length(digest) = 32),
	idx    bigint NOT NULL CHECK (idx >= 0),
	CHECK (key = ('x' || encode(substring(digest FROM 1 FOR 8), 'hex'))::bit(64)::bigint # (-9223372036854775808))
);
CREATE INDEX digests_key ON digests (key);

-- How many leading entries of the log the digest index covers. Its own row, not a column
-- of log_head: indexing holds this row locked while it works, and must not hold appends.
CREATE TABLE digest_index_head (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	size      bigint  NOT NULL CHECK (size >= 0)
);
INSERT INTO digest_index_head (size) VALUES (0);

-- Signed checkpoints, keyed by log size.
CREATE TABLE checkpoints (
	size   bigint PRIMARY KEY CHECK (size >= 0),
	origin text   NOT NULL,
	root   bytea  NOT NULL CHECK (length(root) = 32),
	note   bytea  NOT NULL -- the signed note, exactly as published
);

-- Anchor records, opaque to the store.
CREATE TABLE anchors (
	id   bigint PRIMARY KEY,
	data bytea  NOT NULL
);

-- The anchorer's wallet state, opaque to the store: at most one row.
CREATE TABLE wallet (
	id   integer PRIMARY KEY CHECK (id = 1),
	data bytea   NOT NULL
);
