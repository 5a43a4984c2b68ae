package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/notary-dev/notary/notary"
)

// IndexedSize returns how many leading entries of the log the digest index covers.
func (db *DB) IndexedSize(ctx context.Context) (int64, error) {
	var n int64
	if err := db.indexedSize.QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, dbErr(ctx, "digest index size", err)
	}
	return n, nil
}

// IndexDigests adds the digests of the entries [IndexedSize, through) to the digest index
// and moves IndexedSize to through, in one transaction synced to disk.
func (db *DB) IndexDigests(ctx context.Context, through int64) error {
	db.appendMu.Lock()
	defer db.appendMu.Unlock()
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(ctx, "index digests", err)
	}
	defer tx.Rollback()
	var from, size, nhashes int64
	if err := tx.StmtContext(ctx, db.writerIndexed).QueryRowContext(ctx).Scan(&from); err != nil {
		return dbErr(ctx, "index digests", err)
	}
	if err := tx.StmtContext(ctx, db.logSizes).QueryRowContext(ctx).Scan(&size, &nhashes); err != nil {
		return dbErr(ctx, "index digests", err)
	}
	switch {
	case through > size:
		return fmt.Errorf("store: index digests through %d: the log has %d entries", through, size)
	case through < from:
		return fmt.Errorf("store: index digests through %d: the index already covers %d entries", through, from)
	case through == from:
		return nil
	}
	if _, err := tx.StmtContext(ctx, db.indexDigests).ExecContext(ctx, from, through); err != nil {
		return dbErr(ctx, fmt.Sprintf("index the digests of entries %d to %d", from, through-1), err)
	}
	if _, err := tx.StmtContext(ctx, db.setIndexed).ExecContext(ctx, through); err != nil {
		return dbErr(ctx, "index digests", err)
	}
	if err := tx.Commit(); err != nil {
		return dbErr(ctx, "index digests: commit", err)
	}
	return nil
}

// LookupDigests sets indexes[k] to the index of the first entry of digests[k] in the digest
// index, or -1: one query, whatever the number of digests.
func (db *DB) LookupDigests(ctx context.Context, digests []notary.Digest, indexes []int64) error {
	if len(indexes) != len(digests) {
		return fmt.Errorf("store: lookup digests: %d digests, %d indexes", len(digests), len(indexes))
	}
	for k := range indexes {
		indexes[k] = -1
	}
	switch len(digests) {
	case 0:
		return nil
	case 1:
		err := db.lookupDigest.QueryRowContext(ctx, digests[0][:]).Scan(&indexes[0])
		if errors.Is(err, sql.ErrNoRows) {
			indexes[0] = -1
			return nil
		}
		if err != nil {
			return dbErr(ctx, "lookup digest", err)
		}
		return nil
	}
	list := make([]byte, 0, len(digests)*(2*len(notary.Digest{})+3)+2)
	list = append(list, '[')
	for k, d := range digests {
		if k > 0 {
			list = append(list, ',')
		}
		list = append(list, '"')
		list = hex.AppendEncode(list, d[:])
		list = append(list, '"')
	}
	list = append(list, ']')
	rows, err := db.lookupDigests.QueryContext(ctx, string(list))
	if err != nil {
		return dbErr(ctx, "lookup digests", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k int
		var index int64
		if err := rows.Scan(&k, &index); err != nil {
			return dbErr(ctx, "lookup digests", err)
		}
		if k < 0 || k >= len(indexes) {
			return fmt.Errorf("store: lookup digests: position %d of %d", k, len(indexes))
		}
		indexes[k] = index
	}
	if err := rows.Err(); err != nil {
		return dbErr(ctx, "lookup digests", err)
	}
	return nil
}
