package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/notary-dev/notary/notary"
)

// SaveWitnessed records the checkpoint the writer publishes after its witnesses, and, if
// cosigned, as the latest a quorum cosigned. A checkpoint smaller than the one recorded is
// ignored: sizes only grow. It implements service.WitnessedStore.
func (db *DB) SaveWitnessed(ctx context.Context, published notary.Checkpoint, cosigned bool) error {
	kinds := []string{"published"}
	if cosigned {
		kinds = append(kinds, "cosigned")
	}
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for _, kind := range kinds {
			_, err := tx.Exec(ctx, `INSERT INTO witnessed (kind, size, origin, root, note) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (kind) DO UPDATE SET size = EXCLUDED.size, origin = EXCLUDED.origin, root = EXCLUDED.root, note = EXCLUDED.note
				WHERE witnessed.size <= EXCLUDED.size`,
				kind, published.Size, published.Origin, published.Root[:], published.Note)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return dbErr(ctx, fmt.Sprintf("save the witnessed checkpoint of size %d", published.Size), err)
	}
	db.notifier.moved()
	return nil
}

// Witnessed returns the checkpoints SaveWitnessed recorded: the published one and the
// latest cosigned one, each nil if there is none. It implements service.WitnessedStore.
func (db *DB) Witnessed(ctx context.Context) (published, cosigned *notary.Checkpoint, err error) {
	rows, err := db.pool.Query(ctx, `SELECT kind, size, origin, root, note FROM witnessed`)
	if err != nil {
		return nil, nil, dbErr(ctx, "witnessed checkpoints", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		var c notary.Checkpoint
		var root []byte
		if err := rows.Scan(&kind, &c.Size, &c.Origin, &root, &c.Note); err != nil {
			return nil, nil, dbErr(ctx, "witnessed checkpoints", err)
		}
		if len(root) != len(c.Root) {
			return nil, nil, fmt.Errorf("store/postgres: witnessed %s checkpoint: corrupt root, %d bytes", kind, len(root))
		}
		copy(c.Root[:], root)
		switch kind {
		case "published":
			published = &c
		case "cosigned":
			cosigned = &c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, dbErr(ctx, "witnessed checkpoints", err)
	}
	return published, cosigned, nil
}
