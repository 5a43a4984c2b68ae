-- The log's writer epoch: a process that becomes the writer moves it on (Lead), and every
-- write of a process that led at an earlier epoch is refused, so that a deposed writer can
-- never extend the log or spend the wallet's coins. One row.
CREATE TABLE writer (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	epoch INTEGER NOT NULL CHECK (epoch >= 0)
) STRICT;
INSERT INTO writer (id, epoch) VALUES (1, 0);
