package store

import (
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

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

// TestWebhooksMigrate: the webhooks of a database of before one webhook per request (one
// row per entry and URL) are kept, each as a webhook of its one entry, with no owner (""), in its
// state, with its attempts, due time and last error, and delivered as before.
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
	if _, err := db.writer.Exec(`INSERT INTO webhooks (id, entry, url, created_ms, state, attempts, next_ms, done_ms, last_error) VALUES
		(4, 5, 'https://a.example/hook', 1000, 'pending', 2, 9000, NULL, 'the receiver answered 503'),
		(7, 6, 'https://a.example/hook', 1000, 'delivered', 1, 1000, 2000, ''),
		(9, 1, 'https://b.example', 1000, 'pending', 0, 1000, NULL, '')`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	var got []webhook.Due
	if err := db.DueWebhooks(ctx, 10, time.UnixMilli(9000), 10, 10, func(d webhook.Due) error {
		got = append(got, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []webhook.Due{
		{ID: 9, Callback: webhook.Callback{URL: "https://b.example", Entries: []int64{1}}},
		{ID: 4, Callback: webhook.Callback{URL: "https://a.example/hook", Entries: []int64{5}}, Attempts: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("due after the migration: %+v, want %+v", got, want)
	}
	for i := range want {
		if g, w := got[i], want[i]; g.ID != w.ID || g.Owner != "" || g.URL != w.URL || len(g.Entries) != 1 ||
			g.Entries[0] != w.Entries[0] || g.Batch || g.Attempts != w.Attempts {
			t.Errorf("due %d: %+v, want %+v", i, g, w)
		}
	}
	if state, attempts, lastErr, ok, err := db.WebhookState(ctx, 4); state != "pending" || attempts != 2 ||
		lastErr != "the receiver answered 503" || !ok || err != nil {
		t.Errorf("webhook 4: %q, %d, %q, %v, %v", state, attempts, lastErr, ok, err)
	}
	if state, _, _, ok, err := db.WebhookState(ctx, 7); state != "delivered" || !ok || err != nil {
		t.Errorf("webhook 7: %q, %v, %v", state, ok, err)
	}
	if pending, failed, err := db.WebhookCounts(ctx); pending != 2 || failed != 0 || err != nil {
		t.Errorf("WebhookCounts = %d, %d, %v", pending, failed, err)
	}
	id, _, err := db.AddWebhook(ctx, webhook.Callback{Owner: "ip:a", URL: "https://c.example", Entries: []int64{2, 3}, Batch: true}, time.UnixMilli(1), 0)
	if err != nil || id <= 9 {
		t.Errorf("a new webhook after the migration: ID %d, %v; want one past the others", id, err)
	}
}
