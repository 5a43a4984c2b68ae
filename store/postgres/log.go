package postgres

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// recordSize is the size of an entry in entry_batches.data: digest (32) ‖ receive time in
// Unix milliseconds (8, big-endian) ‖ nonce (16).
const recordSize = 32 + 8 + 16

// rowEntries is the most entries one row of entry_batches holds (3.5 MiB, and about
// 4 MiB of hashes in its hash_batches row). An append of more entries is split into rows
// of rowEntries, keeping rows and statements of a bounded size, and slices of a row
// addressable with 32-bit offsets.
const rowEntries = 1 << 16

// LogSize returns the number of entries stored.
func (db *DB) LogSize(ctx context.Context) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT size FROM log_head`).Scan(&n); err != nil {
		return 0, dbErr(ctx, "log size", err)
	}
	return n, nil
}

// appendHead moves the log's head from ($1 entries, $3 hashes) to ($2, $4) and, only if it
// did, inserts the first rows of the batch: one statement, one round trip, and when run
// on its own one transaction. It returns 1 if the head moved, 0 if it was elsewhere.
// A concurrent append holds the head's row until it ends; then the condition is checked
// again against the row it committed, so that of two appends from one size one fails.
const appendHead = `WITH head AS (
	UPDATE log_head SET size = $2, hashes = $4
	WHERE size = $1 AND hashes = $3 AND ($10::bigint = 0 OR epoch = $10) RETURNING 1
), e AS (
	INSERT INTO entry_batches (first, count, data) SELECT $5::bigint, $6::integer, $7::bytea FROM head
), h AS (
	INSERT INTO hash_batches (first, data) SELECT $8::bigint, $9::bytea FROM head
)
SELECT count(*) FROM head`

// appendRows inserts a further row of entries and its row of hashes.
const appendRows = `WITH e AS (
	INSERT INTO entry_batches (first, count, data) VALUES ($1, $2, $3)
)
INSERT INTO hash_batches (first, data) VALUES ($4, $5)`

// AppendEntries stores entries, whose indexes must run on consecutively from the current
// log size, with the Merkle hashes they add, in one transaction that is durable before it
// returns: hashes[k] is stored at storage index merkle.StoredHashCount(entries[0].Index)+k.
// The transaction moves the log's head from entries[0].Index with a compare-and-swap;
// if another writer moved it first, or the entries or hashes are not what the log needs
// next, nothing is written and the error wraps service.ErrOutOfSequence.
//
// An error other than that does not always mean that nothing was written: if the
// connection fails while the commit is under way, the batch may be in the log. Read
// LogSize before writing again.
func (db *DB) AppendEntries(ctx context.Context, entries []notary.Entry, hashes []merkle.Hash) error {
	if err := service.CheckAppend(entries, hashes); err != nil || len(entries) == 0 {
		if err != nil {
			return fmt.Errorf("store/postgres: %w", err)
		}
		return nil
	}
	first := entries[0].Index
	end := first + int64(len(entries))
	hashFirst, hashEnd := merkle.StoredHashCount(first), merkle.StoredHashCount(end)
	rows := splitRows(entries, hashes)

	var err error
	var moved int
	head := []any{first, end, hashFirst, hashEnd, first, rows[0].count, rows[0].entries, rows[0].hashFirst, rows[0].hashes, db.epoch.Load()}
	if len(rows) == 1 {
		err = db.pool.QueryRow(ctx, appendHead, head...).Scan(&moved)
	} else {
		moved, err = db.appendTx(ctx, head, rows[1:])
	}
	if err != nil {
		return dbErr(ctx, fmt.Sprintf("append entries %d to %d", first, end-1), err)
	}
	if moved != 1 {
		return db.outOfSequence(ctx, first, hashFirst)
	}
	db.notifier.moved()
	return nil
}

// appendTx appends a batch of several rows in one transaction: the head and first rows,
// then the others.
func (db *DB) appendTx(ctx context.Context, head []any, rows []batchRow) (moved int, err error) {
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, appendHead, head...).Scan(&moved); err != nil || moved != 1 {
			return err
		}
		for _, r := range rows {
			if _, err := tx.Exec(ctx, appendRows, r.first, r.count, r.entries, r.hashFirst, r.hashes); err != nil {
				return err
			}
		}
		return nil
	})
	return moved, err
}

// outOfSequence returns the error of an append whose compare-and-swap on the head failed,
// saying where the head is.
func (db *DB) outOfSequence(ctx context.Context, first, hashFirst int64) error {
	var size, nhashes, epoch int64
	if err := db.pool.QueryRow(ctx, `SELECT size, hashes, epoch FROM log_head`).Scan(&size, &nhashes, &epoch); err != nil {
		return fmt.Errorf("store/postgres: %w: entries start at index %d, and the log's size could not be read: %v",
			service.ErrOutOfSequence, first, err)
	}
	if mine := db.epoch.Load(); mine != 0 && epoch != mine {
		return fmt.Errorf("store/postgres: %w (epoch %d, this process led at %d)", service.ErrFenced, epoch, mine)
	}
	if size == first {
		return fmt.Errorf("store/postgres: %w: the log has %d entries but %d stored hashes, want %d",
			service.ErrOutOfSequence, size, nhashes, hashFirst)
	}
	return fmt.Errorf("store/postgres: %w: entries start at index %d, but the log has %d entries",
		service.ErrOutOfSequence, first, size)
}

// batchRow is a row of entry_batches and its row of hash_batches, encoded.
type batchRow struct {
	first, hashFirst int64
	count            int32
	entries, hashes  []byte
}

// splitRows encodes entries and their hashes as rows of at most rowEntries entries.
func splitRows(entries []notary.Entry, hashes []merkle.Hash) []batchRow {
	rows := make([]batchRow, 0, (len(entries)+rowEntries-1)/rowEntries)
	hashFirst := merkle.StoredHashCount(entries[0].Index)
	for len(entries) > 0 {
		n := min(len(entries), rowEntries)
		first := entries[0].Index
		nh := merkle.StoredHashCount(first+int64(n)) - merkle.StoredHashCount(first)
		r := batchRow{first: first, hashFirst: hashFirst, count: int32(n)}
		r.entries = make([]byte, 0, n*recordSize)
		for k := range entries[:n] {
			r.entries = appendRecord(r.entries, &entries[k])
		}
		r.hashes = make([]byte, 0, nh*merkle.HashSize)
		for k := range hashes[:nh] {
			r.hashes = append(r.hashes, hashes[k][:]...)
		}
		rows = append(rows, r)
		entries, hashes, hashFirst = entries[n:], hashes[nh:], hashFirst+nh
	}
	return rows
}

// appendRecord appends the record of e to b.
func appendRecord(b []byte, e *notary.Entry) []byte {
	b = append(b, e.Digest[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixMilli()))
	return append(b, e.Nonce[:]...)
}

// parseRecord decodes the record of entry index from rec, recordSize bytes.
func parseRecord(index int64, rec []byte) notary.Entry {
	e := notary.Entry{Index: index}
	copy(e.Digest[:], rec[:32])
	e.Time = time.UnixMilli(int64(binary.BigEndian.Uint64(rec[32:40]))).UTC()
	copy(e.Nonce[:], rec[40:recordSize])
	return e
}

// readHashRuns reads runs of consecutive stored hashes: for each run, from storage index
// $1[k] through $2[k], the row holding its first hash (the last that starts at or before
// it) and as many of the run's hashes as that row holds, from the run's first on. An
// empty or NULL slice means the first is missing. A slice of an uncompressed value reads
// only the chunks of it that it spans.
const readHashRuns = `SELECT substring(h.data FROM ((k.lo - h.first) * 32 + 1)::integer FOR ((k.hi - k.lo + 1) * 32)::integer)
FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS k(lo, hi, ord)
LEFT JOIN LATERAL (
	SELECT first, data FROM hash_batches WHERE first <= k.lo ORDER BY first DESC LIMIT 1
) AS h ON k.lo - h.first < length(h.data) / 32
ORDER BY k.ord`

// maxHashGap is how far apart, in stored hashes, two hashes asked for may be and still be
// read as one run with the hashes between them: 2 KiB, about one chunk of an out-of-line
// value. An inclusion path's lowest hashes lie close together (the sibling at level j is
// about 2^(j+1) stored hashes from the leaf), so that one run reads several of them, and
// one probe of the table and its out-of-line chunks replaces one per hash.
const maxHashGap = 64

// ReadHashes returns the stored Merkle hashes at the given storage indexes, in the order
// asked, with one query (and one more for each row boundary that a run of them crosses).
// If one is missing the error names it and wraps service.ErrNotFound; if ctx is done
// first, the error wraps ctx.Err().
func (db *DB) ReadHashes(ctx context.Context, indexes []int64) ([]merkle.Hash, error) {
	out := make([]merkle.Hash, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	order := make([]int, len(indexes)) // positions in indexes, by index
	for k := range order {
		order[k] = k
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(indexes[a], indexes[b]) })
	read := make([]bool, len(indexes))
	todo := order
	for len(todo) > 0 && indexes[todo[0]] < 0 {
		todo = todo[1:] // a negative index is missing
	}
	for len(todo) > 0 {
		rest, err := db.readRuns(ctx, indexes, todo, out, read)
		if err != nil {
			return nil, err
		}
		todo = rest
	}
	for k, ok := range read {
		if !ok {
			return nil, fmt.Errorf("store/postgres: hash %d: %w", indexes[k], service.ErrNotFound)
		}
	}
	return out, nil
}

// readRuns reads the hashes at indexes[k] for the positions k of todo, which are in
// ascending order of index, all non-negative, into out[k], and sets read[k]; it leaves out
// those that are missing, with one query of runs of them. It returns the positions of
// those that a run holds but its row does not, to be read again from the next row.
func (db *DB) readRuns(ctx context.Context, indexes []int64, todo []int, out []merkle.Hash, read []bool) ([]int, error) {
	var los, his []int64
	var starts []int // the position in todo of each run's first index
	for k, pos := range todo {
		if i := indexes[pos]; k == 0 || i-his[len(his)-1] > maxHashGap {
			los, his, starts = append(los, i), append(his, i), append(starts, k)
		} else {
			his[len(his)-1] = i
		}
	}
	starts = append(starts, len(todo))
	rows, err := db.pool.Query(ctx, readHashRuns, los, his)
	if err != nil {
		return nil, dbErr(ctx, "read hashes", err)
	}
	defer rows.Close()
	var rest []int
	run := 0
	for rows.Next() {
		if run == len(los) {
			return nil, fmt.Errorf("store/postgres: read hashes: more rows than the %d runs asked", len(los))
		}
		data := rows.RawValues()[0]
		if len(data)%merkle.HashSize != 0 {
			return nil, fmt.Errorf("store/postgres: read hashes from %d: %d bytes, not whole hashes", los[run], len(data))
		}
		for _, pos := range todo[starts[run]:starts[run+1]] {
			off := (indexes[pos] - los[run]) * merkle.HashSize
			if off >= int64(len(data)) {
				if len(data) > 0 {
					rest = append(rest, pos) // in the next row, if there is one
				}
				continue
			}
			out[pos], read[pos] = merkle.Hash(data[off:off+merkle.HashSize]), true
		}
		run++
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(ctx, "read hashes", err)
	}
	if run != len(los) {
		return nil, fmt.Errorf("store/postgres: read hashes: got %d rows for %d runs", run, len(los))
	}
	return rest, nil
}

// readEntry reads the record of entry $1 from the row holding it: the last row that
// starts at or before it, if the entry is within it.
const readEntry = `SELECT substring(data FROM (($1 - first) * 56 + 1)::integer FOR 56)
FROM (SELECT first, count, data FROM entry_batches WHERE first <= $1 ORDER BY first DESC LIMIT 1) AS b
WHERE $1 < first + count`

// Entry returns the entry at index, or an error wrapping service.ErrNotFound.
func (db *DB) Entry(ctx context.Context, index int64) (notary.Entry, error) {
	var rec []byte
	err := db.pool.QueryRow(ctx, readEntry, index).Scan(&rec)
	if notFound(err) {
		return notary.Entry{}, fmt.Errorf("store/postgres: entry %d: %w", index, service.ErrNotFound)
	}
	if err != nil {
		return notary.Entry{}, dbErr(ctx, fmt.Sprintf("entry %d", index), err)
	}
	if len(rec) != recordSize {
		return notary.Entry{}, fmt.Errorf("store/postgres: entry %d: corrupt row, %d bytes", index, len(rec))
	}
	return parseRecord(index, rec), nil
}

// scanEntries reads the rows holding the entries from $1 on, in order, each from its
// first entry at or after $1: the row's first index, entry count, and records.
const scanEntries = `SELECT greatest(first, $1), count - greatest(0, $1 - first)::integer,
	substring(data FROM (greatest(0, $1 - first) * 56 + 1)::integer)
FROM entry_batches
WHERE first >= coalesce((SELECT max(first) FROM entry_batches WHERE first <= $1), 0)
	AND first + count > $1
ORDER BY first`

// ScanEntries calls fn for every entry from index from on, in index order, reading them
// as it goes from one snapshot of the log (one query): entries appended meanwhile are not
// seen. It stops at the first error from fn and returns it. It holds one connection of
// the pool while it runs; fn may use the DB.
func (db *DB) ScanEntries(ctx context.Context, from int64, fn func(notary.Entry) error) error {
	rows, err := db.pool.Query(ctx, scanEntries, max(from, 0))
	if err != nil {
		return dbErr(ctx, "scan entries", err)
	}
	defer rows.Close()
	next := max(from, 0)
	for rows.Next() {
		var first int64
		var count int32
		var data []byte
		if err := rows.Scan(&first, &count, &data); err != nil {
			return dbErr(ctx, "scan entries", err)
		}
		if first != next || len(data) != int(count)*recordSize {
			return fmt.Errorf("store/postgres: scan entries: the row of entry %d is missing or corrupt", next)
		}
		for k := range int64(count) {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("store/postgres: scan entries: %w", err)
			}
			if err := fn(parseRecord(first+k, data[k*recordSize:(k+1)*recordSize])); err != nil {
				return err
			}
		}
		next = first + int64(count)
	}
	if err := rows.Err(); err != nil {
		return dbErr(ctx, "scan entries", err)
	}
	return nil
}

// Lead makes this handle the log's writer: it moves the epoch in the log's head on by one
// and returns it. Writes through handles that led at an earlier epoch fail from then on
// with an error wrapping service.ErrFenced: appends in their compare-and-swap, checkpoints
// and the anchorer's state in the transaction that would write them.
func (db *DB) Lead(ctx context.Context) (int64, error) {
	var epoch int64
	if err := db.pool.QueryRow(ctx, `UPDATE log_head SET epoch = epoch + 1 RETURNING epoch`).Scan(&epoch); err != nil {
		return 0, dbErr(ctx, "lead", err)
	}
	db.epoch.Store(epoch)
	return epoch, nil
}

// checkEpoch fails with an error wrapping service.ErrFenced if this handle led and another
// has led since. It reads the head's row FOR SHARE: a Lead under way waits for tx to end,
// and tx for a Lead under way, so tx never commits after a Lead it did not see.
func (db *DB) checkEpoch(ctx context.Context, tx pgx.Tx) error {
	mine := db.epoch.Load()
	if mine == 0 {
		return nil
	}
	var epoch int64
	if err := tx.QueryRow(ctx, `SELECT epoch FROM log_head FOR SHARE`).Scan(&epoch); err != nil {
		return err
	}
	if epoch != mine {
		return fmt.Errorf("store/postgres: %w (epoch %d, this process led at %d)", service.ErrFenced, epoch, mine)
	}
	return nil
}
