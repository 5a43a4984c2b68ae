package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// SaveCheckpoint stores a signed checkpoint. Its size must be at least that of the latest
// stored checkpoint and at most the log size; saving the latest checkpoint again is a
// no-op, saving a different one of the same size an error. Saves from several
// connections take turns (an advisory lock), so the rule holds between processes too.
func (db *DB) SaveCheckpoint(ctx context.Context, c notary.Checkpoint) error {
	if c.Size < 0 {
		return fmt.Errorf("store/postgres: checkpoint size %d is negative", c.Size)
	}
	if c.Origin == "" || len(c.Note) == 0 {
		return fmt.Errorf("store/postgres: checkpoint of size %d lacks its origin or note", c.Size)
	}
	var refused error
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockCheckpoint); err != nil {
			return err
		}
		if err := db.checkEpoch(ctx, tx); errors.Is(err, service.ErrFenced) {
			refused = err
			return nil
		} else if err != nil {
			return err
		}
		var size int64
		if err := tx.QueryRow(ctx, `SELECT size FROM log_head`).Scan(&size); err != nil {
			return err
		}
		if c.Size > size {
			refused = fmt.Errorf("store/postgres: checkpoint of size %d, but the log has %d entries", c.Size, size)
			return nil
		}
		latest, err := scanCheckpoint(tx.QueryRow(ctx, latestCheckpoint))
		switch {
		case notFound(err):
		case err != nil:
			return err
		case c.Size < latest.Size:
			refused = fmt.Errorf("store/postgres: checkpoint of size %d is older than the latest, of size %d", c.Size, latest.Size)
			return nil
		case c.Size == latest.Size:
			if c.Origin != latest.Origin || c.Root != latest.Root || !bytes.Equal(c.Note, latest.Note) {
				refused = fmt.Errorf("store/postgres: a different checkpoint of size %d is already stored", c.Size)
			}
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO checkpoints (size, origin, root, note) VALUES ($1, $2, $3, $4)`,
			c.Size, c.Origin, c.Root[:], c.Note)
		return err
	})
	if err != nil {
		return dbErr(ctx, fmt.Sprintf("save checkpoint of size %d", c.Size), err)
	}
	if refused == nil {
		db.notifier.moved()
	}
	return refused
}

const latestCheckpoint = `SELECT size, origin, root, note FROM checkpoints ORDER BY size DESC LIMIT 1`

// Checkpoint returns the stored checkpoint of the given size, or an error wrapping
// service.ErrNotFound.
func (db *DB) Checkpoint(ctx context.Context, size int64) (notary.Checkpoint, error) {
	c, err := scanCheckpoint(db.pool.QueryRow(ctx, `SELECT size, origin, root, note FROM checkpoints WHERE size = $1`, size))
	if notFound(err) {
		return notary.Checkpoint{}, fmt.Errorf("store/postgres: checkpoint of size %d: %w", size, service.ErrNotFound)
	}
	if err != nil {
		return notary.Checkpoint{}, dbErr(ctx, fmt.Sprintf("checkpoint of size %d", size), err)
	}
	return c, nil
}

// LatestCheckpoint returns the stored checkpoint of the greatest size, or an error
// wrapping service.ErrNotFound if none is stored.
func (db *DB) LatestCheckpoint(ctx context.Context) (notary.Checkpoint, error) {
	c, err := scanCheckpoint(db.pool.QueryRow(ctx, latestCheckpoint))
	if notFound(err) {
		return notary.Checkpoint{}, fmt.Errorf("store/postgres: latest checkpoint: %w", service.ErrNotFound)
	}
	if err != nil {
		return notary.Checkpoint{}, dbErr(ctx, "latest checkpoint", err)
	}
	return c, nil
}

// scanCheckpoint reads a row of size, origin, root, note.
func scanCheckpoint(row pgx.Row) (notary.Checkpoint, error) {
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
