package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/notary-dev/notary/anchor"
)

// SaveAnchorState stores, in one transaction synced to disk before it returns, the given
// anchor records (each inserted or replaced by its ID) and, when wallet is not nil, the
// wallet state, replacing the previous one. A record's nil Data is stored as empty.
func (db *DB) SaveAnchorState(ctx context.Context, records []anchor.StoredRecord, wallet []byte) error {
	if len(records) == 0 && wallet == nil {
		return nil
	}
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(ctx, "save anchor state", err)
	}
	defer tx.Rollback()
	if err := db.checkEpoch(ctx, tx); err != nil {
		return err
	}

	if len(records) > 0 {
		upsert := tx.StmtContext(ctx, db.upsertAnchor)
		for _, r := range records {
			if _, err := upsert.ExecContext(ctx, r.ID, notNil(r.Data)); err != nil {
				return dbErr(ctx, fmt.Sprintf("save anchor %d", r.ID), err)
			}
		}
	}
	if wallet != nil {
		if _, err := tx.StmtContext(ctx, db.upsertWallet).ExecContext(ctx, wallet); err != nil {
			return dbErr(ctx, "save wallet", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return dbErr(ctx, "save anchor state: commit", err)
	}
	return nil
}

// LoadAnchorState returns every saved anchor record by ascending ID, and the saved wallet
// state, nil if none was saved, both read from the same snapshot.
func (db *DB) LoadAnchorState(ctx context.Context) (records []anchor.StoredRecord, wallet []byte, err error) {
	tx, err := db.readers.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, dbErr(ctx, "load anchor state", err)
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, `SELECT id, data FROM anchors ORDER BY id`)
	if err != nil {
		return nil, nil, dbErr(ctx, "load anchors", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r anchor.StoredRecord
		if err := rows.Scan(&r.ID, &r.Data); err != nil {
			return nil, nil, dbErr(ctx, "load anchors", err)
		}
		records = append(records, r)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, dbErr(ctx, "load anchors", err)
	}

	err = tx.QueryRowContext(ctx, `SELECT data FROM wallet WHERE id = 1`).Scan(&wallet)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, nil, dbErr(ctx, "load wallet", err)
	}
	if err == nil {
		wallet = notNil(wallet)
	}
	return records, wallet, nil
}

// notNil returns b, or an empty slice if b is nil: the driver stores a nil slice as NULL.
func notNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
