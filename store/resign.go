package store

import (
	"context"
	"fmt"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// resignChunk is how many checkpoints Resign reads at a time.
const resignChunk = 4096

// Resign replaces every stored checkpoint by the one sign returns for the same size and
// root, in one transaction, and returns how many it replaced: the log continues under the
// origin and key sign signs with, and the proofs of anchored entries, which rest on the
// root alone, are served under that key. Nothing else may write the database meanwhile
// (the service must be stopped); on error nothing is changed.
func (db *DB) Resign(ctx context.Context, sign func(size int64, root merkle.Hash) (notary.Checkpoint, error)) (int64, error) {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, dbErr(ctx, "re-sign checkpoints", err)
	}
	defer tx.Rollback()
	var n int64
	for after := int64(-1); ; {
		rows, err := tx.QueryContext(ctx, `SELECT size, root FROM checkpoints WHERE size > ? ORDER BY size LIMIT ?`, after, resignChunk)
		if err != nil {
			return 0, dbErr(ctx, "re-sign checkpoints", err)
		}
		type row struct {
			size int64
			root merkle.Hash
		}
		var chunk []row
		for rows.Next() {
			var r row
			var root []byte
			if err := rows.Scan(&r.size, &root); err != nil {
				rows.Close()
				return 0, dbErr(ctx, "re-sign checkpoints", err)
			}
			if len(root) != merkle.HashSize {
				rows.Close()
				return 0, fmt.Errorf("store: checkpoint of size %d: corrupt root, %d bytes", r.size, len(root))
			}
			r.root = merkle.Hash(root)
			chunk = append(chunk, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, dbErr(ctx, "re-sign checkpoints", err)
		}
		if len(chunk) == 0 {
			break
		}
		for _, r := range chunk {
			c, err := sign(r.size, r.root)
			if err != nil {
				return 0, err
			}
			if c.Size != r.size || c.Root != r.root || c.Origin == "" || len(c.Note) == 0 {
				return 0, fmt.Errorf("store: re-signing the checkpoint of size %d gave one of size %d, root %s", r.size, c.Size, c.Root)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE checkpoints SET origin = ?, note = ? WHERE size = ?`, c.Origin, c.Note, c.Size); err != nil {
				return 0, dbErr(ctx, fmt.Sprintf("re-sign checkpoint of size %d", r.size), err)
			}
			n++
		}
		after = chunk[len(chunk)-1].size
	}
	if err := tx.Commit(); err != nil {
		return 0, dbErr(ctx, "re-sign checkpoints: commit", err)
	}
	return n, nil
}
