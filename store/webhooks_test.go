package store

import (
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/notary-dev/notary/webhook"
	"github.com/notary-dev/notary/webhook/storetest"
)

// TestWebhookContract runs the webhook store contract suite on SQLite.
func TestWebhookContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) webhook.Store {
		db, _ := openTest(t)
		return db
	})
}

// TestWebhooksMigrate: the webhooks of a database of before one webhook per request are
// kept (storetest.CheckLegacy).
func TestWebhooksMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notary.db")
	old := fstest.MapFS{}
	for _, name := range []string{"0001_init.sql", "0002_integrations.sql", "0003_writer_epoch.sql"} {
		b, err := fs.ReadFile(migrationFS, "migrations/"+name)
		if err != nil {
			t.Fatal(err)
		}
		old["migrations/"+name] = &fstest.MapFile{Data: b}
	}
	db, err := open(path, old)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, l := range storetest.Legacy {
		var id int64
		if err := db.writer.QueryRow(`INSERT INTO webhooks (entry, url, created_ms, state, attempts, next_ms, last_error)
			VALUES (?, ?, 1000, ?, ?, ?, ?) RETURNING id`, l.Entry, l.URL, l.State, l.Attempts, l.NextMS, l.LastErr).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	db.Close()

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.CheckLegacy(t, db, ids)
}
