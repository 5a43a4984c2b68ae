package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// resignChunk is how many checkpoints Resign reads at a time.
const resignChunk = 4096

// Resign replaces every stored checkpoint by the one sign returns for the same size and
// root, in one transaction, and returns how many it replaced: the log continues under the
// origin and key sign signs with, and the proofs of anchored entries, which rest on the
// root alone, are served under that key. It takes the checkpoint lock, so no checkpoint is
// saved meanwhile; the caller fences writers first (Lead). On error nothing is changed.
func (db *DB) Resign(ctx context.Context, sign func(size int64, root merkle.Hash) (notary.Checkpoint, error)) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockCheckpoint); err != nil {
			return err
		}
		for after := int64(-1); ; {
			type row struct {
				size int64
				root []byte
			}
			rows, err := tx.Query(ctx, `SELECT size, root FROM checkpoints WHERE size > $1 ORDER BY size LIMIT $2`, after, resignChunk)
			if err != nil {
				return err
			}
			chunk, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
				var x row
				return x, r.Scan(&x.size, &x.root)
			})
			if err != nil {
				return err
			}
			if len(chunk) == 0 {
				return nil
			}
			for _, r := range chunk {
				if len(r.root) != merkle.HashSize {
					return fmt.Errorf("checkpoint of size %d: corrupt root, %d bytes", r.size, len(r.root))
				}
				root := merkle.Hash(r.root)
				c, err := sign(r.size, root)
				if err != nil {
					return err
				}
				if c.Size != r.size || c.Root != root || c.Origin == "" || len(c.Note) == 0 {
					return fmt.Errorf("re-signing the checkpoint of size %d gave one of size %d, root %s", r.size, c.Size, c.Root)
				}
				if _, err := tx.Exec(ctx, `UPDATE checkpoints SET origin = $1, note = $2 WHERE size = $3`, c.Origin, c.Note, c.Size); err != nil {
					return err
				}
				n++
			}
			after = chunk[len(chunk)-1].size
		}
	})
	if err != nil {
		return 0, dbErr(ctx, "re-sign checkpoints", err)
	}
	return n, nil
}
