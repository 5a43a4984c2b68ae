package postgres

import (
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

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

// TestWebhooksMigrate: the webhooks of a database of before one webhook per request (one
// row per entry and URL) are kept, each as a webhook of its one entry, with no owner (""), in its
// state, with its attempts, due time and last error, and delivered as before.
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
	var ids [3]int64
	for i, row := range []struct {
		entry    int64
		url      string
		state    string
		attempts int
		next     int64
		lastErr  string
	}{
		{5, "https://a.example/hook", "pending", 2, 9000, "the receiver answered 503"},
		{6, "https://a.example/hook", "delivered", 1, 1000, ""},
		{1, "https://b.example", "pending", 0, 1000, ""},
	} {
		if err := db.pool.QueryRow(ctx, `INSERT INTO webhooks (entry, url, created_ms, state, attempts, next_ms, last_error)
			VALUES ($1, $2, 1000, $3, $4, $5, $6) RETURNING id`, row.entry, row.url, row.state, row.attempts, row.next, row.lastErr).Scan(&ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	db = openDSN(t, dsn)
	var got []webhook.Due
	if err := db.DueWebhooks(ctx, 10, time.UnixMilli(9000), 10, 10, func(d webhook.Due) error {
		got = append(got, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []webhook.Due{
		{ID: ids[2], Callback: webhook.Callback{URL: "https://b.example", Entries: []int64{1}}},
		{ID: ids[0], Callback: webhook.Callback{URL: "https://a.example/hook", Entries: []int64{5}}, Attempts: 2},
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
	if state, attempts, lastErr, ok, err := db.WebhookState(ctx, ids[0]); state != "pending" || attempts != 2 ||
		lastErr != "the receiver answered 503" || !ok || err != nil {
		t.Errorf("webhook %d: %q, %d, %q, %v, %v", ids[0], state, attempts, lastErr, ok, err)
	}
	if state, _, _, ok, err := db.WebhookState(ctx, ids[1]); state != "delivered" || !ok || err != nil {
		t.Errorf("webhook %d: %q, %v, %v", ids[1], state, ok, err)
	}
	if pending, failed, err := db.WebhookCounts(ctx); pending != 2 || failed != 0 || err != nil {
		t.Errorf("WebhookCounts = %d, %d, %v", pending, failed, err)
	}
	id, _, err := db.AddWebhook(ctx, webhook.Callback{Owner: "ip:a", URL: "https://c.example", Entries: []int64{2, 3}, Batch: true}, time.UnixMilli(1), 0)
	if err != nil || id <= ids[2] {
		t.Errorf("a new webhook after the migration: ID %d, %v; want one past the others", id, err)
	}
}
