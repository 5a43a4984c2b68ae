-- Who writes the log: the process that leads it (at the epoch in log_head) publishes the
-- URL where the other processes forward submissions to it. One row.
CREATE TABLE writer (
	id    integer     PRIMARY KEY CHECK (id = 1),
	epoch bigint      NOT NULL,
	url   text        NOT NULL,
	since timestamptz NOT NULL
);
