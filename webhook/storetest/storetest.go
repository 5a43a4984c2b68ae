// Package storetest is the contract test suite of webhook.Store: every store (SQLite,
// PostgreSQL) runs it, so that delivery sees one behaviour whatever holds the webhooks.
package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/webhook"
)

// Run runs the contract tests, each on a new, empty store from open.
func Run(t *testing.T, open func(t *testing.T) webhook.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, st webhook.Store)
	}{
		{"AddAndDue", testAddAndDue},
		{"Refused", testRefused},
		{"TurnsAcrossOwners", testTurns},
		{"Outcomes", testOutcomes},
		{"OwnerCap", testOwnerCap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, open(t)) })
	}
}

var t0 = time.UnixMilli(1_700_000_000_000)

func add(t *testing.T, st webhook.Store, c webhook.Callback, at time.Time) int64 {
	t.Helper()
	id, added, err := st.AddWebhook(context.Background(), c, at, 0)
	if err != nil || !added {
		t.Fatalf("AddWebhook(%+v) = %v, %v", c, added, err)
	}
	return id
}

// due returns the due webhooks, each as "owner/url/entries/batch/attempts", and their IDs.
func due(t *testing.T, st webhook.Store, confirmed int64, now time.Time, perOwner, limit int) (string, []int64) {
	t.Helper()
	var (
		out []string
		ids []int64
	)
	err := st.DueWebhooks(context.Background(), confirmed, now, perOwner, limit, func(d webhook.Due) error {
		out = append(out, fmt.Sprintf("%s/%s/%v/%v/%d", d.Owner, d.URL, d.Entries, d.Batch, d.Attempts))
		ids = append(ids, d.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " "), ids
}

// testAddAndDue: a webhook keeps its owner, URL, entries in their order (repeats
// included) and form; it is due once all its entries are below the confirmed size and its
// time has come. IDs grow in order of registration.
func testAddAndDue(t *testing.T, st webhook.Store) {
	a := add(t, st, webhook.Callback{Owner: "ip:192.0.2.1", URL: "https://a.example/x?y=1", Entries: []int64{7, 2, 9, 2}, Batch: true}, t0)
	b := add(t, st, webhook.Callback{Owner: "key:ci", URL: "https://b.example", Entries: []int64{3}}, t0.Add(time.Second))
	if b <= a {
		t.Errorf("IDs %d then %d: want them growing", a, b)
	}
	for _, tt := range []struct {
		confirmed int64
		now       time.Time
		want      string
	}{
		{9, t0.Add(time.Hour), "key:ci/https://b.example/[3]/false/0"}, // entry 9 is not below 9
		{10, t0.Add(time.Hour), "ip:192.0.2.1/https://a.example/x?y=1/[7 2 9 2]/true/0 key:ci/https://b.example/[3]/false/0"},
		{3, t0.Add(time.Hour), ""},
		{10, t0, "ip:192.0.2.1/https://a.example/x?y=1/[7 2 9 2]/true/0"}, // b is due a second later
		{10, t0.Add(-time.Millisecond), ""},
	} {
		if got, _ := due(t, st, tt.confirmed, tt.now, 10, 10); got != tt.want {
			t.Errorf("due below %d at %v: %q, want %q", tt.confirmed, tt.now.Sub(t0), got, tt.want)
		}
	}
	// The same registration again is another webhook.
	c := add(t, st, webhook.Callback{Owner: "key:ci", URL: "https://b.example", Entries: []int64{3}}, t0.Add(time.Second))
	if _, ids := due(t, st, 10, t0.Add(time.Hour), 10, 10); !slices.Equal(ids, []int64{a, b, c}) {
		t.Errorf("due IDs %v, want %v", ids, []int64{a, b, c})
	}
	if pending, err := st.PendingWebhooks(context.Background(), "key:ci"); err != nil || pending != 2 {
		t.Errorf("PendingWebhooks(key:ci) = %d, %v, want 2", pending, err)
	}
	if pending, err := st.PendingWebhooks(context.Background(), "key:nobody"); err != nil || pending != 0 {
		t.Errorf("PendingWebhooks(key:nobody) = %d, %v, want 0", pending, err)
	}
}

// testRefused: a webhook without entries, or with a negative one, is refused and nothing
// is stored.
func testRefused(t *testing.T, st webhook.Store) {
	ctx := context.Background()
	for _, entries := range [][]int64{nil, {}, {1, -1}} {
		if _, added, err := st.AddWebhook(ctx, webhook.Callback{Owner: "o", URL: "https://a.example", Entries: entries}, t0, 0); err == nil || added {
			t.Errorf("entries %v: added %v, %v; want an error", entries, added, err)
		}
	}
	if pending, failed, err := st.WebhookCounts(ctx); err != nil || pending != 0 || failed != 0 {
		t.Errorf("WebhookCounts = %d, %d, %v; want nothing stored", pending, failed, err)
	}
}

// testTurns: every owner's first due webhook comes before any owner's second, each
// owner's in order of due time, at most perOwner of each and limit in all: an owner with
// many webhooks does not crowd out the others.
func testTurns(t *testing.T, st webhook.Store) {
	for i := range 5 {
		add(t, st, webhook.Callback{Owner: "ip:a", URL: "https://a.example", Entries: []int64{int64(i)}}, t0.Add(time.Duration(i)*time.Millisecond))
	}
	add(t, st, webhook.Callback{Owner: "key:b", URL: "https://b.example", Entries: []int64{1}}, t0.Add(time.Second))
	add(t, st, webhook.Callback{Owner: "ip:c", URL: "https://c.example", Entries: []int64{2}}, t0.Add(2*time.Second))
	add(t, st, webhook.Callback{Owner: "key:b", URL: "https://b.example", Entries: []int64{3}}, t0.Add(3*time.Second))
	now := t0.Add(time.Hour)
	for _, tt := range []struct {
		perOwner, limit int
		want            string
	}{
		{10, 100, "a0 b1 c2 a1 b3 a2 a3 a4"},
		{2, 100, "a0 b1 c2 a1 b3"},
		{1, 100, "a0 b1 c2"},
		{10, 4, "a0 b1 c2 a1"},
	} {
		got, _ := due(t, st, 10, now, tt.perOwner, tt.limit)
		var short []string
		for w := range strings.FieldsSeq(got) {
			p := strings.Split(w, "/")
			short = append(short, strings.TrimPrefix(strings.TrimPrefix(p[0], "ip:"), "key:")+strings.Trim(p[4], "[]"))
		}
		if s := strings.Join(short, " "); s != tt.want {
			t.Errorf("perOwner %d, limit %d: %s, want %s", tt.perOwner, tt.limit, s, tt.want)
		}
	}
}

// testOutcomes: a delivery or a final failure ends a webhook; a failure delays it to its
// next attempt; an ended webhook is not changed again; the counts follow.
func testOutcomes(t *testing.T, st webhook.Store) {
	ctx := context.Background()
	cb := func(e int64) webhook.Callback {
		return webhook.Callback{Owner: "o", URL: "https://a.example", Entries: []int64{e}}
	}
	delivered, retried, gaveUp, waiting := add(t, st, cb(0), t0), add(t, st, cb(1), t0), add(t, st, cb(2), t0), add(t, st, cb(3), t0)
	if err := st.WebhookDelivered(ctx, delivered, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.WebhookFailed(ctx, retried, "the receiver answered 503", t0.Add(10*time.Minute), false); err != nil {
		t.Fatal(err)
	}
	if err := st.WebhookFailed(ctx, gaveUp, "refused", t0.Add(10*time.Minute), true); err != nil {
		t.Fatal(err)
	}
	if _, ids := due(t, st, 10, t0.Add(5*time.Minute), 10, 10); !slices.Equal(ids, []int64{waiting}) {
		t.Errorf("before the retry is due: %v, want %v", ids, []int64{waiting})
	}
	if got, ids := due(t, st, 10, t0.Add(10*time.Minute), 10, 10); !slices.Equal(ids, []int64{waiting, retried}) ||
		!strings.HasSuffix(got, "/1") {
		t.Errorf("once the retry is due: %v %q, want %v, the retry with 1 attempt", ids, got, []int64{waiting, retried})
	}
	// Ended webhooks stay as they ended.
	if err := st.WebhookFailed(ctx, delivered, "late", t0, false); err != nil {
		t.Fatal(err)
	}
	if err := st.WebhookDelivered(ctx, gaveUp, t0); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 1000) // cut to what the store keeps, still text
	if err := st.WebhookFailed(ctx, waiting, long, t0, false); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		id       int64
		state    string
		attempts int
		lastErr  string
	}{
		{delivered, "delivered", 1, ""},
		{retried, "pending", 1, "the receiver answered 503"},
		{gaveUp, "failed", 1, "refused"},
	} {
		state, attempts, lastErr, ok, err := st.WebhookState(ctx, tt.id)
		if err != nil || !ok || state != tt.state || attempts != tt.attempts || lastErr != tt.lastErr {
			t.Errorf("webhook %d: %q, %d, %q, %v, %v; want %q, %d, %q", tt.id, state, attempts, lastErr, ok, err, tt.state, tt.attempts, tt.lastErr)
		}
	}
	if _, _, lastErr, _, err := st.WebhookState(ctx, waiting); err != nil || len(lastErr) == 0 || len(lastErr) > 500 || !strings.HasPrefix(long, lastErr[:len(lastErr)-3]) {
		t.Errorf("a long error is kept as %d bytes, %v; want a prefix of at most 500", len(lastErr), err)
	}
	if _, _, _, ok, err := st.WebhookState(ctx, waiting+1000); ok || err != nil {
		t.Errorf("unknown webhook: %v, %v", ok, err)
	}
	if pending, failed, err := st.WebhookCounts(ctx); err != nil || pending != 2 || failed != 1 {
		t.Errorf("WebhookCounts = %d, %d, %v; want 2, 1", pending, failed, err)
	}
	if pending, err := st.PendingWebhooks(ctx, "o"); err != nil || pending != 2 {
		t.Errorf("PendingWebhooks = %d, %v; want 2", pending, err)
	}
}

// testOwnerCap: an owner with maxPending pending webhooks is refused another, and nothing
// is stored; other owners are not; one that ends makes room.
func testOwnerCap(t *testing.T, st webhook.Store) {
	ctx := context.Background()
	cb := webhook.Callback{Owner: "ip:a", URL: "https://a.example", Entries: []int64{1, 2}, Batch: true}
	var ids []int64
	for i := range 3 {
		id, added, err := st.AddWebhook(ctx, cb, t0, 3)
		if err != nil || !added {
			t.Fatalf("webhook %d of 3: %v, %v", i+1, added, err)
		}
		ids = append(ids, id)
	}
	if _, added, err := st.AddWebhook(ctx, cb, t0, 3); err != nil || added {
		t.Fatalf("a fourth with a cap of 3: added %v, %v; want refused", added, err)
	}
	if n, _ := st.PendingWebhooks(ctx, "ip:a"); n != 3 {
		t.Errorf("PendingWebhooks = %d after a refusal, want 3", n)
	}
	other := cb
	other.Owner = "ip:b"
	otherID, added, err := st.AddWebhook(ctx, other, t0, 3)
	if err != nil || !added {
		t.Errorf("another owner: %v, %v", added, err)
	}
	if err := st.WebhookDelivered(ctx, otherID, t0); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PendingWebhooks(ctx, "ip:b"); n != 0 || err != nil {
		t.Errorf("PendingWebhooks of an owner whose one webhook was delivered = %d, %v; want 0", n, err)
	}
	if _, added, err := st.AddWebhook(ctx, cb, t0, 0); err != nil || !added {
		t.Errorf("no cap: %v, %v", added, err)
	}
	if err := st.WebhookDelivered(ctx, ids[0], t0); err != nil {
		t.Fatal(err)
	}
	if err := st.WebhookFailed(ctx, ids[1], "gone", t0, true); err != nil {
		t.Fatal(err)
	}
	if _, added, err := st.AddWebhook(ctx, cb, t0, 3); err != nil || !added {
		t.Errorf("after two ended, with 2 of 3 pending: %v, %v", added, err)
	}
	if _, added, err := st.AddWebhook(ctx, cb, t0, 3); err != nil || added {
		t.Errorf("at the cap again: added %v, %v; want refused", added, err)
	}
}

// LegacyWebhook is a row of the webhooks table of before one webhook per request (schema
// version 3 of both stores): one per entry and URL.
type LegacyWebhook struct {
	Entry    int64
	URL      string
	State    string
	Attempts int
	NextMS   int64
	LastErr  string
}

// Legacy are the rows a store's migration test writes in the schema of before, in order,
// before migrating and calling CheckLegacy.
var Legacy = []LegacyWebhook{
	{5, "https://a.example/hook", "pending", 2, 9000, "the receiver answered 503"},
	{6, "https://a.example/hook", "delivered", 1, 1000, ""},
	{1, "https://b.example", "pending", 0, 1000, ""},
}

// CheckLegacy checks st, migrated from a database holding the Legacy rows with the given
// IDs: each is kept as a webhook of its one entry, with no owner, in its state, with its
// attempts, due time and last error, and is delivered as before; a new webhook gets an ID
// past theirs.
func CheckLegacy(t *testing.T, st webhook.Store, ids []int64) {
	t.Helper()
	ctx := context.Background()
	var got []webhook.Due
	if err := st.DueWebhooks(ctx, 10, time.UnixMilli(9000), 10, 10, func(d webhook.Due) error {
		got = append(got, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []webhook.Due{
		{ID: ids[2], Callback: webhook.Callback{URL: Legacy[2].URL, Entries: []int64{Legacy[2].Entry}}},
		{ID: ids[0], Callback: webhook.Callback{URL: Legacy[0].URL, Entries: []int64{Legacy[0].Entry}}, Attempts: Legacy[0].Attempts},
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("due after the migration: %+v\nwant %+v", got, want)
	}
	for i, l := range Legacy {
		state, attempts, lastErr, ok, err := st.WebhookState(ctx, ids[i])
		if state != l.State || attempts != l.Attempts || lastErr != l.LastErr || !ok || err != nil {
			t.Errorf("webhook %d: %q, %d, %q, %v, %v; want %+v", ids[i], state, attempts, lastErr, ok, err, l)
		}
	}
	if pending, failed, err := st.WebhookCounts(ctx); pending != 2 || failed != 0 || err != nil {
		t.Errorf("WebhookCounts = %d, %d, %v; want 2, 0", pending, failed, err)
	}
	if pending, err := st.PendingWebhooks(ctx, ""); pending != 2 || err != nil {
		t.Errorf("PendingWebhooks of no owner = %d, %v; want 2", pending, err)
	}
	id, _, err := st.AddWebhook(ctx, webhook.Callback{Owner: "ip:a", URL: "https://c.example", Entries: []int64{2, 3}, Batch: true}, time.UnixMilli(1), 0)
	if err != nil || id <= slices.Max(ids) {
		t.Errorf("a new webhook after the migration: ID %d, %v; want one past %v", id, err, ids)
	}
}
