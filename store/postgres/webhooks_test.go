package postgres

import (
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/notary-dev/notary/internal/pgtest"
	"github.com/notary-dev/notary/webhook"
	"github.com/notary-dev/notary/webhook/storetest"
)

// TestWebhookContract runs the webhook store contract suite on PostgreSQL.
func TestWebhookContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) webhook.Store {
		db, _ := openTest(t)
		return db
	})
}

// TestWebhooksMigrate: the webhooks of a database of before one webhook per request are
// kept (storetest.CheckLegacy).
func TestWebhooksMigrate(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Shared(t)
	old := fstest.MapFS{}
	for _, name := range []string{"0001_init.sql", "0002_integrations.sql", "0003_writer.sql"} {
		b, err := fs.ReadFile(migrationFS, "migrations/"+name)
		if err != nil {
			t.Fatal(err)
		}
		old["migrations/"+name] = &fstest.MapFile{Data: b}
	}
	db, err := open(ctx, dsn, old)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, l := range storetest.Legacy {
		var id int64
		if err := db.pool.QueryRow(ctx, `INSERT INTO webhooks (entry, url, created_ms, state, attempts, next_ms, last_error)
			VALUES ($1, $2, 1000, $3, $4, $5, $6) RETURNING id`, l.Entry, l.URL, l.State, l.Attempts, l.NextMS, l.LastErr).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	db.Close()
	storetest.CheckLegacy(t, openDSN(t, dsn), ids)
}
