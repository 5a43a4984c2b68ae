-- The log: one row per entry, keyed by its log index. The digest is deliberately not
-- indexed: the service keeps the digest-to-index map in memory (loaded with ScanEntries),
-- and a B-tree on random 32-byte keys would turn every append into random page writes.
CREATE TABLE entries (
	id      INTEGER PRIMARY KEY,                        -- log index, from 0
	digest  BLOB    NOT NULL CHECK (length(digest) = 32), -- SHA-256 of the document
	time_ms INTEGER NOT NULL,                           -- receive time, Unix milliseconds
	nonce   BLOB    NOT NULL CHECK (length(nonce) = 16)
) STRICT;

-- The stored Merkle hashes of the log, keyed by storage index (merkle.StoredHashIndex).
CREATE TABLE hashes (
	id   INTEGER PRIMARY KEY,                      -- storage index, from 0
	hash BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

-- Signed checkpoints, keyed by log size.
CREATE TABLE checkpoints (
	size   INTEGER PRIMARY KEY CHECK (size >= 0),
	origin TEXT    NOT NULL,
	root   BLOB    NOT NULL CHECK (length(root) = 32),
	note   BLOB    NOT NULL                          -- the signed note, exactly as published
) STRICT;

-- Anchor records, opaque to the store.
CREATE TABLE anchors (
	id   INTEGER PRIMARY KEY,
	data BLOB    NOT NULL
) STRICT;

-- The anchorer's wallet state, opaque to the store: at most one row.
CREATE TABLE wallet (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	data BLOB    NOT NULL
) STRICT;
