-- The digest index: each logged digest to the index of its first entry. It is filled
-- behind the log in large sorted chunks (IndexDigests), off the commit path, so that an
-- append never writes random B-tree pages; the sequencer holds the digests of the
-- entries it does not cover yet. It can be rebuilt from the entries at any time.
CREATE TABLE digest_index (
	digest BLOB    PRIMARY KEY CHECK (length(digest) = 32),
	id     INTEGER NOT NULL CHECK (id >= 0)
) STRICT, WITHOUT ROWID;

-- How many leading entries of the log the digest index covers: one row.
CREATE TABLE digest_index_size (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	size INTEGER NOT NULL CHECK (size >= 0)
) STRICT;
INSERT INTO digest_index_size (id, size) VALUES (1, 0);
