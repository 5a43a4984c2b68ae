-- A digest's key in the index becomes a keyed hash of the whole digest (internal/digestkey)
-- under this secret, instead of the digest's first 8 bytes: clients choose the digests they
-- submit, and many that share their first 8 bytes made every lookup of one of them read
-- the entries of all. gen_random_uuid gives 122 random bits. The index is rebuilt: emptied
-- here, it is filled again from the entries when the log's writer next starts.
CREATE TABLE digest_key (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	secret    bytea   NOT NULL CHECK (length(secret) = 16)
);
INSERT INTO digest_key (secret) VALUES (decode(replace(gen_random_uuid()::text, '-', ''), 'hex'));
TRUNCATE digests;
UPDATE digest_index_head SET size = 0;
