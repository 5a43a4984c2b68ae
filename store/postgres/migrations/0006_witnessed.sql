-- The checkpoints the writer publishes after sending them to its witnesses, for the other
-- processes to serve the same: 'published' the one it serves (cosigned, or as the log signed
-- it when too few witnesses cosigned), 'cosigned' the latest a quorum of witnesses cosigned.
-- One row of each kind; sizes only grow.
CREATE TABLE witnessed (
	kind   text   PRIMARY KEY CHECK (kind IN ('published', 'cosigned')),
	size   bigint NOT NULL,
	origin text   NOT NULL,
	root   bytea  NOT NULL,
	note   bytea  NOT NULL
);
