package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/notary-dev/notary/anchor"
	"github.com/notary-dev/notary/service"
)

var _ anchor.Store = (*DB)(nil)

// SaveAnchorState stores, in one transaction that is durable before it returns, the
// given anchor records (each inserted or replaced by its ID, in order: of two records
// with one ID the second stays) and, when wallet is not nil, the wallet state, replacing
// the previous one. A record's nil Data is stored as empty.
func (db *DB) SaveAnchorState(ctx context.Context, records []anchor.StoredRecord, wallet []byte) error {
	if len(records) == 0 && wallet == nil {
		return nil
	}
	// One round trip for the statements, whatever their number.
	var b pgx.Batch
	for _, r := range records {
		b.Queue(`INSERT INTO anchors (id, data) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET data = excluded.data`, r.ID, notNil(r.Data))
	}
	if wallet != nil {
		b.Queue(`INSERT INTO wallet (id, data) VALUES (1, $1)
			ON CONFLICT (id) DO UPDATE SET data = excluded.data`, wallet)
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := db.checkEpoch(ctx, tx); err != nil {
			return err
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	if errors.Is(err, service.ErrFenced) {
		return err
	}
	if err != nil {
		return dbErr(ctx, "save anchor state", err)
	}
	return nil
}

// LoadAnchorState returns every saved anchor record by ascending ID, and the saved wallet
// state, nil if none was saved, both read from the same snapshot.
func (db *DB) LoadAnchorState(ctx context.Context) (records []anchor.StoredRecord, wallet []byte, err error) {
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err = pgx.BeginTxFunc(ctx, db.pool, opts, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, data FROM anchors ORDER BY id`)
		if err != nil {
			return err
		}
		records, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (anchor.StoredRecord, error) {
			var r anchor.StoredRecord
			err := row.Scan(&r.ID, &r.Data)
			r.Data = notNil(r.Data)
			return r, err
		})
		if err != nil {
			return err
		}
		if len(records) == 0 {
			records = nil
		}
		err = tx.QueryRow(ctx, `SELECT data FROM wallet WHERE id = 1`).Scan(&wallet)
		switch {
		case notFound(err):
			wallet = nil
		case err != nil:
			return err
		default:
			wallet = notNil(wallet)
		}
		return nil
	})
	if err != nil {
		return nil, nil, dbErr(ctx, "load anchor state", err)
	}
	return records, wallet, nil
}

// notNil returns b, or an empty slice if b is nil: the driver sends a nil slice as NULL,
// and reads an empty bytea as nil.
func notNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
