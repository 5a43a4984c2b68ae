package postgres

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/webhook"
)

// The interfaces the API takes of a store.
var (
	_ api.KeyStore  = (*DB)(nil)
	_ webhook.Store = (*DB)(nil)
)

func TestAPIKeys(t *testing.T) {
	db, dsn := openTest(t)
	ctx := t.Context()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	ci, ops := sha256.Sum256([]byte("token ci")), sha256.Sum256([]byte("token ops"))
	if keys, err := db.APIKeys(ctx); keys != nil || err != nil {
		t.Errorf("APIKeys of an empty store = %v, %v", keys, err)
	}
	if err := db.CreateAPIKey(ctx, "ops", ops, "", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAPIKey(ctx, "ci", ci, "https://ci.example/hook", now); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name, key string
		hash      [32]byte
		wantErr   error // nil: any error that is not ErrKeyExists
	}{
		{"taken name", "ci", sha256.Sum256([]byte("other")), ErrKeyExists},
		{"taken token", "new", ci, ErrKeyExists},
		{"empty name", "", sha256.Sum256([]byte("a")), nil},
		{"long name", strings.Repeat("n", 65), sha256.Sum256([]byte("b")), nil},
	} {
		t.Run("refused/"+tt.name, func(t *testing.T) {
			err := db.CreateAPIKey(ctx, tt.key, tt.hash, "", now)
			switch {
			case err == nil:
				t.Fatal("CreateAPIKey succeeded")
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("CreateAPIKey: %v, want %v", err, tt.wantErr)
			case tt.wantErr == nil && errors.Is(err, ErrKeyExists):
				t.Errorf("CreateAPIKey: %v, want another error", err)
			}
		})
	}

	for _, tt := range []struct {
		name          string
		hash          [32]byte
		key, webhook  string
		revoked, lost bool
	}{
		{"valid with a webhook", ci, "ci", "https://ci.example/hook", false, false},
		{"valid without", ops, "ops", "", false, false},
		{"unknown", sha256.Sum256([]byte("nope")), "", "", false, true},
	} {
		t.Run("by hash/"+tt.name, func(t *testing.T) {
			name, webhook, revoked, err := db.APIKeyByHash(ctx, tt.hash)
			if tt.lost {
				if !errors.Is(err, service.ErrNotFound) {
					t.Errorf("APIKeyByHash: %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil || name != tt.key || webhook != tt.webhook || revoked != tt.revoked {
				t.Errorf("APIKeyByHash = %q, %q, %v, %v", name, webhook, revoked, err)
			}
		})
	}

	for _, tt := range []struct {
		name, key string
		at        time.Time
		notFound  bool
	}{
		{"revoke", "ops", now.Add(time.Hour), false},
		{"revoke again", "ops", now.Add(2 * time.Hour), false},
		{"unknown", "nobody", now, true},
	} {
		t.Run("revoke/"+tt.name, func(t *testing.T) {
			err := db.RevokeAPIKey(ctx, tt.key, tt.at)
			if tt.notFound != errors.Is(err, service.ErrNotFound) || (!tt.notFound && err != nil) {
				t.Errorf("RevokeAPIKey(%s): %v", tt.key, err)
			}
		})
	}
	if _, _, revoked, err := db.APIKeyByHash(ctx, ops); !revoked || err != nil {
		t.Errorf("revoked key: revoked %v, %v", revoked, err)
	}
	if err := db.CreateAPIKey(ctx, "ops", sha256.Sum256([]byte("token ops 2")), "", now); !errors.Is(err, ErrKeyExists) {
		t.Errorf("the name of a revoked key was taken again: %v", err)
	}

	// Kept across a reopen, by name, with the first revocation time.
	db.Close()
	db = openDSN(t, dsn)
	keys, err := db.APIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]APIKey{
		{ID: 2, Name: "ci", Webhook: "https://ci.example/hook", Created: now},
		{ID: 1, Name: "ops", Created: now.Add(time.Second), Revoked: now.Add(time.Hour)},
	})
	if fmt.Sprint(keys) != want {
		t.Errorf("APIKeys = %v\nwant %v", keys, want)
	}
}

func TestWebhooks(t *testing.T) {
	db, _ := openTest(t)
	ctx := t.Context()
	t0 := time.UnixMilli(1_700_000_000_000)
	for _, add := range []struct {
		url     string
		entries []int64
		at      time.Time
	}{
		{"https://a.example", []int64{0, 1, 2, 5}, t0},
		{"https://b.example", []int64{1}, t0.Add(time.Millisecond)},
		{"https://a.example", []int64{1, 1}, t0.Add(time.Hour)}, // registered again: left as it is
		{"https://a.example", nil, t0},
	} {
		if err := db.AddWebhooks(ctx, add.url, add.entries, add.at); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddWebhooks(ctx, "https://a.example", []int64{7, -1}, t0); err == nil {
		t.Error("a negative entry was registered")
	}

	// IDs are given in order of registration; registering again skips some.
	ids := map[string]int64{}
	for _, key := range []struct {
		entry int64
		url   string
	}{{0, "https://a.example"}, {1, "https://a.example"}, {2, "https://a.example"}, {5, "https://a.example"}, {1, "https://b.example"}} {
		ids[fmt.Sprint(key.entry, key.url)] = 0
	}
	due := func(confirmed int64, now time.Time, limit int) string {
		t.Helper()
		var out []string
		err := db.DueWebhooks(ctx, confirmed, now, limit, func(id, entry int64, url string, attempts int) error {
			if ids[fmt.Sprint(entry, url)] == 0 {
				ids[fmt.Sprint(entry, url)] = id
			} else if ids[fmt.Sprint(entry, url)] != id {
				t.Errorf("webhook (%d, %s) has ID %d, then %d", entry, url, ids[fmt.Sprint(entry, url)], id)
			}
			out = append(out, fmt.Sprintf("%d:%s:%d", entry, url, attempts))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, " ")
	}
	id := func(entry int64, url string) int64 { return ids[fmt.Sprint(entry, url)] }

	for _, tt := range []struct {
		name      string
		confirmed int64
		now       time.Time
		limit     int
		want      string
	}{
		{"below 10", 10, t0.Add(time.Hour), 10, "0:https://a.example:0 1:https://a.example:0 2:https://a.example:0 5:https://a.example:0 1:https://b.example:0"},
		{"below 2", 2, t0.Add(time.Hour), 10, "0:https://a.example:0 1:https://a.example:0 1:https://b.example:0"},
		{"below 0", 0, t0.Add(time.Hour), 10, ""},
		{"limit 2", 10, t0.Add(time.Hour), 2, "0:https://a.example:0 1:https://a.example:0"},
		{"not due yet", 10, t0.Add(-time.Millisecond), 10, ""},
	} {
		t.Run("due/"+tt.name, func(t *testing.T) {
			if got := due(tt.confirmed, tt.now, tt.limit); got != tt.want {
				t.Errorf("due: %q, want %q", got, tt.want)
			}
		})
	}
	if id(0, "https://a.example") >= id(1, "https://a.example") || id(5, "https://a.example") >= id(1, "https://b.example") {
		t.Errorf("IDs not in order of registration: %v", ids)
	}

	for _, step := range []struct {
		name string
		f    func() error
	}{
		{"delivered", func() error { return db.WebhookDelivered(ctx, id(0, "https://a.example"), t0.Add(time.Minute)) }},
		{"failed, retry", func() error {
			return db.WebhookFailed(ctx, id(1, "https://a.example"), "503", t0.Add(10*time.Minute), false)
		}},
		{"failed for good", func() error {
			return db.WebhookFailed(ctx, id(1, "https://b.example"), "refused", t0.Add(10*time.Minute), true)
		}},
		// A delivered or failed webhook is not recorded again.
		{"failed after delivery", func() error { return db.WebhookFailed(ctx, id(0, "https://a.example"), "late", t0, false) }},
		{"delivered after giving up", func() error { return db.WebhookDelivered(ctx, id(1, "https://b.example"), t0) }},
		{"unknown", func() error { return db.WebhookDelivered(ctx, 1<<40, t0) }},
		{"a reason that is not text", func() error {
			return db.WebhookFailed(ctx, id(5, "https://a.example"), "bad \xff\x00 bytes"+strings.Repeat("x", 600), t0, false)
		}},
	} {
		if err := step.f(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
	}
	if got, want := due(10, t0.Add(5*time.Minute), 10), "2:https://a.example:0 5:https://a.example:1"; got != want {
		t.Errorf("before the retry is due: %q, want %q", got, want)
	}
	if got, want := due(10, t0.Add(10*time.Minute), 10), "2:https://a.example:0 5:https://a.example:1 1:https://a.example:1"; got != want {
		t.Errorf("once the retry is due: %q, want %q", got, want)
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
		{5, "https://a.example", "pending", 1, "bad \uFFFD\uFFFD bytes" + strings.Repeat("x", maxWebhookError-len("bad \xff\x00 bytes"))},
	} {
		state, attempts, lastErr, ok, err := db.WebhookState(ctx, tt.entry, tt.url)
		if err != nil || !ok || state != tt.state || attempts != tt.attempts || lastErr != tt.lastErr {
			t.Errorf("webhook (%d, %s): %q, %d, %.30q, %v, %v", tt.entry, tt.url, state, attempts, lastErr, ok, err)
		}
	}
	if _, _, _, ok, err := db.WebhookState(ctx, 9, "https://a.example"); ok || err != nil {
		t.Errorf("unknown webhook: %v, %v", ok, err)
	}
	pending, failed, err := db.WebhookCounts(ctx)
	if err != nil || pending != 3 || failed != 1 {
		t.Errorf("WebhookCounts = %d, %d, %v; want 3, 1", pending, failed, err)
	}

	t.Run("callback error", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := db.DueWebhooks(ctx, 10, t0.Add(time.Hour), 10, func(int64, int64, string, int) error { calls++; return stop })
		if err != stop || calls != 1 {
			t.Errorf("DueWebhooks = %v after %d calls, want the callback's error after 1", err, calls)
		}
	})

	t.Run("callback writes", func(t *testing.T) {
		// fn may write while DueWebhooks runs: here it delivers every webhook.
		err := db.DueWebhooks(ctx, 10, t0.Add(time.Hour), 10, func(id, _ int64, _ string, _ int) error {
			return db.WebhookDelivered(ctx, id, t0.Add(time.Hour))
		})
		if err != nil {
			t.Fatal(err)
		}
		if pending, failed, err := db.WebhookCounts(ctx); err != nil || pending != 0 || failed != 1 {
			t.Errorf("WebhookCounts = %d, %d, %v; want 0, 1", pending, failed, err)
		}
	})
}
