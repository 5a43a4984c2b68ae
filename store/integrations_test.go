package store

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/notary-dev/notary/service"
)

func TestAPIKeys(t *testing.T) {
	db, path := openTest(t)
	ctx := t.Context()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	ci, ops := sha256.Sum256([]byte("token ci")), sha256.Sum256([]byte("token ops"))
	if err := db.CreateAPIKey(ctx, "ci", ci, "https://ci.example/hook", now); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAPIKey(ctx, "ops", ops, "", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		hash [32]byte
	}{{"ci", sha256.Sum256([]byte("other"))}, {"new", ci}} {
		if err := db.CreateAPIKey(ctx, tt.name, tt.hash, "", now); !errors.Is(err, ErrKeyExists) {
			t.Errorf("CreateAPIKey(%s) of a taken name or token: %v", tt.name, err)
		}
	}
	name, webhook, revoked, err := db.APIKeyByHash(ctx, ci)
	if err != nil || name != "ci" || webhook != "https://ci.example/hook" || revoked {
		t.Errorf("APIKeyByHash = %q, %q, %v, %v", name, webhook, revoked, err)
	}
	if _, _, _, err := db.APIKeyByHash(ctx, sha256.Sum256([]byte("nope"))); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
	if err := db.RevokeAPIKey(ctx, "ops", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeAPIKey(ctx, "ops", now.Add(2*time.Hour)); err != nil {
		t.Errorf("revoking again: %v", err)
	}
	if err := db.RevokeAPIKey(ctx, "nobody", now); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("revoking an unknown key: %v", err)
	}
	if _, _, revoked, err := db.APIKeyByHash(ctx, ops); !revoked || err != nil {
		t.Errorf("revoked key: revoked %v, %v", revoked, err)
	}
	// Kept across a reopen, with the first revocation time.
	db.Close()
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys, err := db.APIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]APIKey{
		{ID: 1, Name: "ci", Webhook: "https://ci.example/hook", Created: now},
		{ID: 2, Name: "ops", Created: now.Add(time.Second), Revoked: now.Add(time.Hour)},
	})
	if fmt.Sprint(keys) != want {
		t.Errorf("APIKeys = %v\nwant %v", keys, want)
	}
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestWebhooks(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	t0 := time.UnixMilli(1_700_000_000_000)
	if err := db.AddWebhooks(ctx, "https://a.example", []int64{0, 1, 2, 5}, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.AddWebhooks(ctx, "https://b.example", []int64{1}, t0.Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	// Registered again: left as it is.
	if err := db.AddWebhooks(ctx, "https://a.example", []int64{1, 1}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.AddWebhooks(ctx, "https://a.example", []int64{-1}, t0); err == nil {
		t.Error("a negative entry was registered")
	}
	due := func(confirmed int64, now time.Time, limit int) string {
		var out string
		err := db.DueWebhooks(ctx, confirmed, now, limit, func(id, entry int64, url string, attempts int) error {
			out += fmt.Sprintf("%d:%d:%s:%d ", id, entry, url, attempts)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got, want := due(2, t0.Add(time.Hour), 10), "1:0:https://a.example:0 2:1:https://a.example:0 5:1:https://b.example:0 "; got != want {
		t.Errorf("due below 2: %q, want %q", got, want)
	}
	if got := due(0, t0.Add(time.Hour), 10); got != "" {
		t.Errorf("due below 0: %q", got)
	}
	if got := due(10, t0.Add(time.Hour), 2); got != "1:0:https://a.example:0 2:1:https://a.example:0 " {
		t.Errorf("limit 2: %q", got)
	}
	if err := db.WebhookDelivered(ctx, 1, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.WebhookFailed(ctx, 2, "503", t0.Add(10*time.Minute), false); err != nil {
		t.Fatal(err)
	}
	if err := db.WebhookFailed(ctx, 5, "refused", t0.Add(10*time.Minute), true); err != nil {
		t.Fatal(err)
	}
	if got := due(10, t0.Add(5*time.Minute), 10); got != "3:2:https://a.example:0 4:5:https://a.example:0 " {
		t.Errorf("before the retry is due: %q", got)
	}
	if got := due(10, t0.Add(10*time.Minute), 10); got != "3:2:https://a.example:0 4:5:https://a.example:0 2:1:https://a.example:1 " {
		t.Errorf("once the retry is due: %q", got)
	}
	// A delivered or failed webhook is not recorded again.
	if err := db.WebhookFailed(ctx, 1, "late", t0, false); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		entry    int64
		url      string
		state    string
		attempts int
		lastErr  string
	}{
		{0, "https://a.example", "delivered", 1, ""},
		{1, "https://a.example", "pending", 1, "503"},
		{1, "https://b.example", "failed", 1, "refused"},
		{2, "https://a.example", "pending", 0, ""},
	} {
		state, attempts, lastErr, ok, err := db.WebhookState(ctx, tt.entry, tt.url)
		if err != nil || !ok || state != tt.state || attempts != tt.attempts || lastErr != tt.lastErr {
			t.Errorf("webhook (%d, %s): %q, %d, %q, %v, %v", tt.entry, tt.url, state, attempts, lastErr, ok, err)
		}
	}
	if _, _, _, ok, err := db.WebhookState(ctx, 9, "https://a.example"); ok || err != nil {
		t.Errorf("unknown webhook: %v, %v", ok, err)
	}
	pending, failed, err := db.WebhookCounts(ctx)
	if err != nil || pending != 3 || failed != 1 {
		t.Errorf("WebhookCounts = %d, %d, %v", pending, failed, err)
	}
}
