package postgres

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/notary-dev/notary/notary"
)

// IndexedSize returns how many leading entries of the log the digest index covers.
func (db *DB) IndexedSize(ctx context.Context) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT size FROM digest_index_head`).Scan(&n); err != nil {
		return 0, dbErr(ctx, "digest index size", err)
	}
	return n, nil
}

// readDigests reads the entries [$1, $2) as the rows holding them, each cut to the
// entries in range: first index, count, records.
const readDigests = `SELECT greatest(first, $1), (least(first + count, $2) - greatest(first, $1))::integer,
	substring(data FROM (greatest(0, $1 - first) * 56 + 1)::integer FOR ((least(first + count, $2) - greatest(first, $1)) * 56)::integer)
FROM entry_batches
WHERE first >= coalesce((SELECT max(first) FROM entry_batches WHERE first <= $1), 0)
	AND first < $2 AND first + count > $1
ORDER BY first`

// insertDigests adds the keys $1, mapped to the entries $2, to the index.
const insertDigests = `INSERT INTO digests (key, idx) SELECT * FROM unnest($1::bigint[], $2::bigint[])`

// digestKey returns the key of d in the index (internal/digestkey), as PostgreSQL's bigint.
func (db *DB) digestKey(d *notary.Digest) int64 {
	return int64(db.keys.Key((*[32]byte)(d)))
}

// IndexDigests adds the digests of the entries [IndexedSize, through) to the digest index
// and moves IndexedSize to through, in one transaction. Of the entries of one digest in
// the range the first is indexed; a digest indexed before is not looked for (the service
// never logs a digest twice), and were it there twice, lookups take the first entry. The
// keys go in sorted, so that the B-tree's pages are each written once per call however
// many of the call's keys they take: call it with many entries.
// Calls from several goroutines or processes take turns (they lock the index's head).
func (db *DB) IndexDigests(ctx context.Context, through int64) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var from, size int64
		err := tx.QueryRow(ctx, `SELECT i.size, h.size FROM digest_index_head AS i, log_head AS h FOR UPDATE OF i`).
			Scan(&from, &size)
		if err != nil {
			return err
		}
		switch {
		case through < from:
			return fmt.Errorf("the index already covers %d entries", from)
		case through > size:
			return fmt.Errorf("the log has %d entries", size)
		case through == from:
			return nil
		}
		ds, err := readIndexChunk(ctx, tx, from, through)
		if err != nil {
			return err
		}
		keyed := make([]keyedIndex, len(ds))
		for k := range ds {
			keyed[k] = keyedIndex{db.digestKey(&ds[k].digest), ds[k].index}
		}
		slices.SortFunc(keyed, func(a, b keyedIndex) int { return cmp.Compare(a.key, b.key) })
		keys, indexes := make([]int64, len(keyed)), make([]int64, len(keyed))
		for k, ki := range keyed {
			keys[k], indexes[k] = ki.key, ki.index
		}
		if _, err := tx.Exec(ctx, insertDigests, keys, indexes); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE digest_index_head SET size = $1`, through)
		return err
	})
	if err != nil {
		return dbErr(ctx, fmt.Sprintf("index digests through %d", through), err)
	}
	db.notifier.moved()
	return nil
}

// keyedIndex is a digest's key and the index of its first entry.
type keyedIndex struct{ key, index int64 }

// indexedDigest is a digest and the index of an entry of it.
type indexedDigest struct {
	digest notary.Digest
	index  int64
}

// readIndexChunk returns the digests of entries [from, through), one for each digest,
// of its first entry, sorted.
func readIndexChunk(ctx context.Context, tx pgx.Tx, from, through int64) ([]indexedDigest, error) {
	ds := make([]indexedDigest, 0, through-from)
	rows, err := tx.Query(ctx, readDigests, from, through)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var first int64
		var count int32
		if err := rows.Scan(&first, &count, nil); err != nil {
			return nil, err
		}
		data := rows.RawValues()[2]
		if first != from+int64(len(ds)) || len(data) != int(count)*recordSize {
			return nil, fmt.Errorf("the row of entry %d is missing or corrupt", from+int64(len(ds)))
		}
		for k := range int64(count) {
			d := indexedDigest{index: first + k}
			copy(d.digest[:], data[k*recordSize:])
			ds = append(ds, d)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if got := from + int64(len(ds)); got != through {
		return nil, fmt.Errorf("the log's rows end at entry %d", got)
	}
	slices.SortFunc(ds, func(a, b indexedDigest) int {
		if c := bytes.Compare(a.digest[:], b.digest[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.index, b.index)
	})
	return slices.CompactFunc(ds, func(a, b indexedDigest) bool { return a.digest == b.digest }), nil
}

// lookupDigests finds the digests $2, of keys $1, in the index: for each one found, its
// position in $2 (from 1), its first entry's index and that entry's record. A key's
// entries are confirmed by reading their record and comparing its digest: a key of
// another digest is not a match. Each digest is looked up on its own (LATERAL), so that
// the plan is an index probe per digest whatever the planner believes of the table: a
// join of the digests with the table may be planned as a scan of all of it, as it was
// once, at about 2 ms a query on a small log.
const lookupDigests = `SELECT q.ord, f.idx, f.rec
FROM unnest($1::bigint[], $2::bytea[]) WITH ORDINALITY AS q(key, digest, ord)
CROSS JOIN LATERAL (
	SELECT d.idx, e.rec
	FROM digests AS d
	CROSS JOIN LATERAL (
		SELECT substring(data FROM ((d.idx - first) * 56 + 1)::integer FOR 56) AS rec
		FROM entry_batches WHERE first <= d.idx ORDER BY first DESC LIMIT 1
	) AS e
	WHERE d.key = q.key AND substring(e.rec FOR 32) = q.digest
	ORDER BY d.idx LIMIT 1
) AS f`

// LookupDigests sets indexes[k] to the index of the first entry of digests[k] in the
// digest index, or -1, with one query. A digest whose key is not in the index costs one
// probe of the index's B-tree; one whose key is, a read of each entry under the key.
func (db *DB) LookupDigests(ctx context.Context, digests []notary.Digest, indexes []int64) error {
	if len(indexes) != len(digests) {
		return fmt.Errorf("store/postgres: lookup digests: %d digests, %d indexes", len(digests), len(indexes))
	}
	for k := range indexes {
		indexes[k] = -1
	}
	return db.lookup(ctx, digests, func(k int, e notary.Entry) { indexes[k] = e.Index })
}

// LookupEntries implements service.EntryLookupStore: it sets entries[k] to the first
// entry of digests[k] in the digest index, or its Index to -1, with the one query of
// LookupDigests, which reads the entry to confirm the match.
func (db *DB) LookupEntries(ctx context.Context, digests []notary.Digest, entries []notary.Entry) error {
	if len(entries) != len(digests) {
		return fmt.Errorf("store/postgres: lookup entries: %d digests, %d entries", len(digests), len(entries))
	}
	for k := range entries {
		entries[k] = notary.Entry{Index: -1}
	}
	return db.lookup(ctx, digests, func(k int, e notary.Entry) { entries[k] = e })
}

// lookup looks digests up with one query and calls found with the position in digests
// and the first entry of each one the index holds.
func (db *DB) lookup(ctx context.Context, digests []notary.Digest, found func(k int, e notary.Entry)) error {
	if len(digests) == 0 {
		return nil
	}
	keys, ds := make([]int64, len(digests)), make([][]byte, len(digests))
	for k := range digests {
		keys[k], ds[k] = db.digestKey(&digests[k]), digests[k][:]
	}
	rows, err := db.pool.Query(ctx, lookupDigests, keys, ds)
	if err != nil {
		return dbErr(ctx, "lookup digests", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ord, idx int64
		if err := rows.Scan(&ord, &idx, nil); err != nil {
			return dbErr(ctx, "lookup digests", err)
		}
		if ord < 1 || ord > int64(len(digests)) {
			return fmt.Errorf("store/postgres: lookup digests: a row for digest %d of %d", ord, len(digests))
		}
		rec := rows.RawValues()[2]
		if len(rec) != recordSize {
			return fmt.Errorf("store/postgres: lookup digests: entry %d: corrupt row, %d bytes", idx, len(rec))
		}
		found(int(ord-1), parseRecord(idx, rec))
	}
	if err := rows.Err(); err != nil {
		return dbErr(ctx, "lookup digests", err)
	}
	return nil
}
