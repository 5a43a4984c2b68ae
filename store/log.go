package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// AppendEntries stores entries, whose indexes must run on consecutively from the current
// log size, with the Merkle hashes they add, in one transaction that is synced to disk
// before it returns. hashes[k] is stored at storage index merkle.StoredHashCount(entries[0].Index)+k,
// and len(hashes) must be exactly the number of hashes the entries add. Otherwise it writes
// nothing and returns an error wrapping service.ErrOutOfSequence.
func (db *DB) AppendEntries(ctx context.Context, entries []notary.Entry, hashes []merkle.Hash) error {
	if err := service.CheckAppend(entries, hashes); err != nil || len(entries) == 0 {
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		return nil
	}
	first := entries[0].Index
	end := first + int64(len(entries))
	hashStart := merkle.StoredHashCount(first)

	db.appendMu.Lock()
	defer db.appendMu.Unlock()

	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(ctx, "append", err)
	}
	defer tx.Rollback()
	if err := db.checkEpoch(ctx, tx); err != nil {
		return err
	}

	var size, nhashes int64
	if err := tx.StmtContext(ctx, db.logSizes).QueryRowContext(ctx).Scan(&size, &nhashes); err != nil {
		return dbErr(ctx, "append", err)
	}
	if first != size {
		return fmt.Errorf("store: %w: entries start at index %d, but the log has %d entries", service.ErrOutOfSequence, first, size)
	}
	if nhashes != hashStart {
		return fmt.Errorf("store: append: the log has %d entries but %d stored hashes, want %d", size, nhashes, hashStart)
	}

	args := db.args[:0]
	defer func() {
		clear(args[:cap(args)]) // keep no references to the callers' arrays
		db.args = args[:0]
	}()
	for k := range entries {
		e := &entries[k]
		args = append(args, e.Index, e.Digest[:], e.Time.UnixMilli(), e.Nonce[:])
	}
	if err := db.insertEntries.exec(ctx, tx, args); err != nil {
		return dbErr(ctx, fmt.Sprintf("append entries %d to %d", first, end-1), err)
	}
	entryArgs := len(args)
	for k := range hashes {
		args = append(args, hashStart+int64(k), hashes[k][:])
	}
	if err := db.insertHashes.exec(ctx, tx, args[entryArgs:]); err != nil {
		return dbErr(ctx, fmt.Sprintf("append hashes %d to %d", hashStart, hashStart+int64(len(hashes))-1), err)
	}
	if err := tx.Commit(); err != nil {
		return dbErr(ctx, "append: commit", err)
	}
	return nil
}

// ReadHashes returns the stored Merkle hashes at the given storage indexes, in the order
// asked, with one query. If one is missing the error names it and wraps service.ErrNotFound;
// if ctx is done first, the error wraps ctx.Err().
func (db *DB) ReadHashes(ctx context.Context, indexes []int64) ([]merkle.Hash, error) {
	out := make([]merkle.Hash, 0, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	list := make([]byte, 0, 1+len(indexes)*9)
	list = append(list, '[')
	for k, i := range indexes {
		if k > 0 {
			list = append(list, ',')
		}
		list = strconv.AppendInt(list, i, 10)
	}
	list = append(list, ']')

	rows, err := db.readHashes.QueryContext(ctx, string(list))
	if err != nil {
		return nil, dbErr(ctx, "read hashes", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var h sql.RawBytes
		if err := rows.Scan(&id, &h); err != nil {
			return nil, dbErr(ctx, "read hashes", err)
		}
		if h == nil {
			return nil, fmt.Errorf("store: hash %d: %w", id, service.ErrNotFound)
		}
		if len(h) != merkle.HashSize {
			return nil, fmt.Errorf("store: hash %d: corrupt, %d bytes", id, len(h))
		}
		out = append(out, merkle.Hash(h))
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(ctx, "read hashes", err)
	}
	if len(out) != len(indexes) {
		return nil, fmt.Errorf("store: read hashes: got %d rows for %d indexes", len(out), len(indexes))
	}
	return out, nil
}

// Entry returns the entry at index, or an error wrapping service.ErrNotFound.
func (db *DB) Entry(ctx context.Context, index int64) (notary.Entry, error) {
	var r entryRow
	err := db.readEntry.QueryRowContext(ctx, index).Scan(&r.id, &r.digest, &r.timeMS, &r.nonce)
	if errors.Is(err, sql.ErrNoRows) {
		return notary.Entry{}, fmt.Errorf("store: entry %d: %w", index, service.ErrNotFound)
	}
	if err != nil {
		return notary.Entry{}, dbErr(ctx, fmt.Sprintf("entry %d", index), err)
	}
	return r.entry()
}

// ScanEntries calls fn for every entry from index from on, in index order, reading them
// as it goes from one snapshot of the log: entries appended meanwhile are not seen. It
// stops at the first error from fn and returns it, and once ctx is done, with an error
// wrapping ctx.Err(). It holds one reader while it runs; fn may use the DB.
func (db *DB) ScanEntries(ctx context.Context, from int64, fn func(notary.Entry) error) error {
	rows, err := db.scan.QueryContext(ctx, from)
	if err != nil {
		return dbErr(ctx, "scan entries", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r entryRow
		if err := rows.Scan(&r.id, (*sql.RawBytes)(&r.digest), &r.timeMS, (*sql.RawBytes)(&r.nonce)); err != nil {
			return dbErr(ctx, "scan entries", err)
		}
		e, err := r.entry()
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: scan entries: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return dbErr(ctx, "scan entries", err)
	}
	return nil
}

// entryRow is a row of the entries table.
type entryRow struct {
	id     int64
	digest []byte
	timeMS int64
	nonce  []byte
}

func (r *entryRow) entry() (notary.Entry, error) {
	e := notary.Entry{Index: r.id, Time: time.UnixMilli(r.timeMS).UTC()}
	if len(r.digest) != len(e.Digest) || len(r.nonce) != len(e.Nonce) {
		return notary.Entry{}, fmt.Errorf("store: entry %d: corrupt row", r.id)
	}
	copy(e.Digest[:], r.digest)
	copy(e.Nonce[:], r.nonce)
	return e, nil
}

// SaveCheckpoint stores a signed checkpoint. Its size must be at least that of the latest
// stored checkpoint and at most the log size; saving the latest checkpoint again is a
// no-op, saving a different one of the same size an error.
func (db *DB) SaveCheckpoint(ctx context.Context, c notary.Checkpoint) error {
	if c.Size < 0 {
		return fmt.Errorf("store: checkpoint size %d is negative", c.Size)
	}
	if c.Origin == "" || len(c.Note) == 0 {
		return fmt.Errorf("store: checkpoint of size %d lacks its origin or note", c.Size)
	}
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(ctx, "save checkpoint", err)
	}
	defer tx.Rollback()
	if err := db.checkEpoch(ctx, tx); err != nil {
		return err
	}

	var size, nhashes int64
	if err := tx.StmtContext(ctx, db.logSizes).QueryRowContext(ctx).Scan(&size, &nhashes); err != nil {
		return dbErr(ctx, "save checkpoint", err)
	}
	if c.Size > size {
		return fmt.Errorf("store: checkpoint of size %d, but the log has %d entries", c.Size, size)
	}
	latest, err := scanCheckpoint(tx.StmtContext(ctx, db.writerLatest).QueryRowContext(ctx))
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return dbErr(ctx, "save checkpoint", err)
	case c.Size < latest.Size:
		return fmt.Errorf("store: checkpoint of size %d is older than the latest, of size %d", c.Size, latest.Size)
	case c.Size == latest.Size:
		if c.Origin == latest.Origin && c.Root == latest.Root && bytes.Equal(c.Note, latest.Note) {
			return nil
		}
		return fmt.Errorf("store: a different checkpoint of size %d is already stored", c.Size)
	}
	if _, err := tx.StmtContext(ctx, db.insertCheckpt).ExecContext(ctx, c.Size, c.Origin, c.Root[:], c.Note); err != nil {
		return dbErr(ctx, fmt.Sprintf("save checkpoint of size %d", c.Size), err)
	}
	if err := tx.Commit(); err != nil {
		return dbErr(ctx, fmt.Sprintf("save checkpoint of size %d: commit", c.Size), err)
	}
	return nil
}

// Checkpoint returns the stored checkpoint of the given size, or an error wrapping
// service.ErrNotFound.
func (db *DB) Checkpoint(ctx context.Context, size int64) (notary.Checkpoint, error) {
	c, err := scanCheckpoint(db.checkpoint.QueryRowContext(ctx, size))
	if errors.Is(err, sql.ErrNoRows) {
		return notary.Checkpoint{}, fmt.Errorf("store: checkpoint of size %d: %w", size, service.ErrNotFound)
	}
	if err != nil {
		return notary.Checkpoint{}, dbErr(ctx, fmt.Sprintf("checkpoint of size %d", size), err)
	}
	return c, nil
}

// LatestCheckpoint returns the stored checkpoint of the greatest size, or an error
// wrapping service.ErrNotFound if none is stored.
func (db *DB) LatestCheckpoint(ctx context.Context) (notary.Checkpoint, error) {
	c, err := scanCheckpoint(db.latest.QueryRowContext(ctx))
	if errors.Is(err, sql.ErrNoRows) {
		return notary.Checkpoint{}, fmt.Errorf("store: latest checkpoint: %w", service.ErrNotFound)
	}
	if err != nil {
		return notary.Checkpoint{}, dbErr(ctx, "latest checkpoint", err)
	}
	return c, nil
}

// scanCheckpoint reads a row of size, origin, root, note.
func scanCheckpoint(row *sql.Row) (notary.Checkpoint, error) {
	var c notary.Checkpoint
	var root []byte
	if err := row.Scan(&c.Size, &c.Origin, &root, &c.Note); err != nil {
		return notary.Checkpoint{}, err
	}
	if len(root) != merkle.HashSize {
		return notary.Checkpoint{}, fmt.Errorf("corrupt root, %d bytes", len(root))
	}
	c.Root = merkle.Hash(root)
	return c, nil
}
