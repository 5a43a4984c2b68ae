package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/strictjson"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/webhook"
)

// receiver is a webhook receiver on loopback that fails its first failures requests.
type receiver struct {
	*httptest.Server
	key ed25519.PublicKey

	mu         sync.Mutex
	failures   int
	deliveries []delivery
	got        chan delivery
}

type delivery struct {
	at        time.Time
	status    int // what the receiver answered
	id        string
	attempt   int
	signature error            // the signature check
	ts        timestampReply   // the body of a single submission's webhook
	batch     []timestampReply // the body of a batch's, {"timestamps": […]}
}

// webhookID returns the ID of the webhook d delivers.
func (d delivery) webhookID(t *testing.T) int64 {
	t.Helper()
	id, err := strconv.ParseInt(d.id, 10, 64)
	if err != nil {
		t.Fatalf("Notary-Webhook-Id %q: %v", d.id, err)
	}
	return id
}

func newReceiver(t *testing.T, key ed25519.PublicKey, failures int) *receiver {
	r := &receiver{key: key, failures: failures, got: make(chan delivery, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := delivery{at: time.Now(), id: req.Header.Get("Notary-Webhook-Id")}
		d.attempt, _ = strconv.Atoi(req.Header.Get("Notary-Webhook-Attempt"))
		d.signature = notary.VerifyWebhook(r.key, req.Header.Get(notary.WebhookSignatureHeader), body, time.Now(), 5*time.Minute)
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s with Content-Type %q", req.Method, req.Header.Get("Content-Type"))
		}
		if bytes.HasPrefix(body, []byte(`{"timestamps":`)) {
			var b struct {
				Timestamps []timestampReply `json:"timestamps"`
			}
			if err := strictjson.Decode(body, &b); err != nil {
				t.Errorf("webhook body %.200s: %v", body, err)
			}
			d.batch = b.Timestamps
		} else if err := strictjson.Decode(body, &d.ts); err != nil {
			t.Errorf("webhook body %.200s: %v", body, err)
		}
		r.mu.Lock()
		d.status = http.StatusOK
		if r.failures > 0 {
			r.failures--
			d.status = http.StatusServiceUnavailable
		}
		r.deliveries = append(r.deliveries, d)
		r.mu.Unlock()
		w.WriteHeader(d.status)
		r.got <- d
	}))
	t.Cleanup(r.Close)
	return r
}

// next returns the next delivery, failing the test if none comes within patience.
func (r *receiver) next(t *testing.T) delivery {
	t.Helper()
	select {
	case d := <-r.got:
		return d
	case <-time.After(patience):
		t.Fatalf("no webhook within %v", patience)
	}
	panic("unreachable")
}

// quiet fails the test if a delivery comes within d.
func (r *receiver) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case got := <-r.got:
		t.Fatalf("unexpected webhook: %+v", got)
	case <-time.After(d):
	}
}

func TestWebhook(t *testing.T) {
	f := newFull(t, fullConfig{stack: stackConfig{CheckpointInterval: 5 * time.Millisecond}})
	rcv := newReceiver(t, f.hookKey.Public().(ed25519.PublicKey), 2)
	d := randomDigest()
	body, _ := json.Marshal(map[string]string{"digest": d.String(), "callback": rcv.URL + "/hook?x=1"})
	r := do(t, http.DefaultClient, http.MethodPost, f.url+"/v1/timestamps", "application/json", body)
	if r.status != 200 {
		t.Fatalf("status %d, %s", r.status, r.body)
	}
	cp := waitCheckpoint(t, f.svc, 1)

	// Nothing until the proof is complete.
	f.chain.set(anchorOf(cp, service.AnchorMempool, 1))
	f.chain.set(anchorOf(cp, service.AnchorConfirmed, 1))
	rcv.quiet(t, 300*time.Millisecond)

	confirmed := time.Now()
	f.chain.set(anchorOf(cp, service.AnchorFinal, 1))
	first, second, third := rcv.next(t), rcv.next(t), rcv.next(t)
	for i, dl := range []delivery{first, second, third} {
		if dl.signature != nil {
			t.Errorf("attempt %d: %v", i+1, dl.signature)
		}
		if dl.attempt != i+1 || dl.id != first.id || dl.id == "" {
			t.Errorf("attempt %d: header attempt %d, id %q (first %q)", i+1, dl.attempt, dl.id, first.id)
		}
		if dl.ts.Digest != d.String() || dl.ts.Status != service.StatusConfirmed {
			t.Errorf("attempt %d: digest %s, status %s", i+1, dl.ts.Digest, dl.ts.Status)
		}
		p, err := notary.ParseProof(dl.ts.Proof)
		if err != nil || !p.Complete() {
			t.Errorf("attempt %d: proof complete? %v", i+1, err)
		}
	}
	// Backoff: 20 ms, then 40 ms, after the failures (lower bounds: a retry is never early).
	if gap := second.at.Sub(first.at); gap < 20*time.Millisecond {
		t.Errorf("second attempt %v after the first, want at least the backoff, 20 ms", gap)
	}
	if gap := third.at.Sub(second.at); gap < 40*time.Millisecond {
		t.Errorf("third attempt %v after the second, want at least twice the backoff, 40 ms", gap)
	}
	if first.at.Before(confirmed) {
		t.Errorf("first attempt %v before the proof was complete", confirmed.Sub(first.at))
	}
	// Delivered: never again, and the body is what a lookup answers.
	rcv.quiet(t, 300*time.Millisecond)
	state, attempts, _, ok, err := f.db.WebhookState(t.Context(), third.webhookID(t))
	if err != nil || !ok || state != "delivered" || attempts != 3 {
		t.Errorf("stored state %q after %d attempts (%v, %v)", state, attempts, ok, err)
	}
	ts := lookup(t, f.stack, d.String())
	if string(ts.Proof) != string(third.ts.Proof) || ts.Status != third.ts.Status {
		t.Error("the webhook's body is not what a lookup answers")
	}

	t.Run("a forged or replayed body fails the check", func(t *testing.T) {
		body := []byte(`{"digest":"x"}`)
		h := notary.SignWebhook(f.hookKey, body, time.Now())
		pub := f.hookKey.Public().(ed25519.PublicKey)
		if err := notary.VerifyWebhook(pub, h, []byte(`{"digest":"y"}`), time.Now(), time.Minute); err == nil {
			t.Error("a changed body verifies")
		}
		if err := notary.VerifyWebhook(pub, h, body, time.Now().Add(time.Hour), time.Minute); err == nil {
			t.Error("an hour-old signature verifies")
		}
	})
}

func TestWebhookBatchAndKey(t *testing.T) {
	f := newFull(t, fullConfig{stack: stackConfig{CheckpointInterval: 5 * time.Millisecond}})
	rcv := newReceiver(t, f.hookKey.Public().(ed25519.PublicKey), 0)
	keyed := newReceiver(t, f.hookKey.Public().(ed25519.PublicKey), 0)
	token := createKey(t, f, "with-hook", keyed.URL)

	ds := []string{randomDigest().String(), randomDigest().String(), randomDigest().String()}
	body, _ := json.Marshal(map[string]any{"digests": ds, "callback": rcv.URL})
	if r := do(t, http.DefaultClient, http.MethodPost, f.url+"/v1/timestamps/batch", "application/json", body); r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	viaKey := randomDigest().String()
	r := doH(t, http.MethodPost, f.url+"/v1/timestamps", submitBody(viaKey), "Content-Type", "application/json", "Authorization", "Bearer "+token)
	if r.status != 200 {
		t.Fatalf("keyed submit: %d %s", r.status, r.body)
	}
	cp := waitCheckpoint(t, f.svc, 4)
	f.chain.set(anchorOf(cp, service.AnchorFinal, 1))

	// The batch's webhook is one POST listing its digests' timestamps in its order.
	dl := rcv.next(t)
	if dl.signature != nil {
		t.Error(dl.signature)
	}
	var got []string
	for _, ts := range dl.batch {
		got = append(got, ts.Digest)
		if ts.Status != service.StatusConfirmed {
			t.Errorf("batch digest %s: status %s", ts.Digest, ts.Status)
		}
	}
	if !slices.Equal(got, ds) {
		t.Errorf("the batch's webhook lists %v, want %v", got, ds)
	}
	if dl := keyed.next(t); dl.ts.Digest != viaKey {
		t.Errorf("the key's webhook got digest %s, want %s", dl.ts.Digest, viaKey)
	}
	rcv.quiet(t, 200*time.Millisecond)
	keyed.quiet(t, 0)

	t.Run("registered after the proof is complete", func(t *testing.T) {
		late := newReceiver(t, f.hookKey.Public().(ed25519.PublicKey), 0)
		body, _ := json.Marshal(map[string]any{"digest": ds[0], "callback": late.URL})
		if r := do(t, http.DefaultClient, http.MethodPost, f.url+"/v1/timestamps", "application/json", body); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		if dl := late.next(t); dl.ts.Digest != ds[0] || dl.ts.Status != service.StatusConfirmed {
			t.Errorf("got %s %s", dl.ts.Digest, dl.ts.Status)
		}
	})
}

// TestWebhookSurvivesRestart stops the dispatcher after a failed attempt and starts a new
// one, whose clock is past the retry's time: the retry can only come from the new
// dispatcher, and only through the database, however slowly the machine gets to the stop.
func TestWebhookSurvivesRestart(t *testing.T) {
	s := newStack(t, stackConfig{CheckpointInterval: 5 * time.Millisecond})
	chain := newFakeChain(s.svc)
	_, key, _ := ed25519.GenerateKey(nil)
	rcv := newReceiver(t, key.Public().(ed25519.PublicKey), 1)
	newHooks := func(now func() time.Time) (*webhook.Dispatcher, func()) {
		w, err := webhook.New(webhook.Config{Encode: api.TimestampJSON, Service: s.svc, Store: s.db, Key: key, AllowPrivate: true,
			Backoff: time.Hour, Poll: 10 * time.Millisecond, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); w.Run(ctx) }()
		return w, func() { cancel(); <-done }
	}
	first, stop := newHooks(time.Now)
	url := serve(t, api.New(api.Config{Service: s.svc, Webhooks: first}))
	d := randomDigest()
	body, _ := json.Marshal(map[string]string{"digest": d.String(), "callback": rcv.URL})
	if r := do(t, http.DefaultClient, http.MethodPost, url+"/v1/timestamps", "application/json", body); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	cp := waitCheckpoint(t, s.svc, 1)
	chain.set(anchorOf(cp, service.AnchorFinal, 1))
	dl := rcv.next(t)
	if dl.status != http.StatusServiceUnavailable {
		t.Fatalf("first attempt answered %d", dl.status)
	}
	waitUntil(t, "record of the failed attempt", func() bool {
		_, attempts, _, _, _ := s.db.WebhookState(t.Context(), dl.webhookID(t))
		return attempts == 1
	})
	stop() // the process stops after a failed attempt

	// It starts again once the retry, an hour after the failure, is due: it is in the database.
	_, stop = newHooks(func() time.Time { return time.Now().Add(time.Hour + time.Minute) })
	defer stop()
	if dl := rcv.next(t); dl.status != http.StatusOK || dl.attempt != 2 || dl.ts.Digest != d.String() {
		t.Errorf("after the restart: status %d, attempt %d, digest %s", dl.status, dl.attempt, dl.ts.Digest)
	}
}

func TestWebhookGivesUp(t *testing.T) {
	f := newFull(t, fullConfig{
		stack:    stackConfig{CheckpointInterval: 5 * time.Millisecond},
		webhooks: webhook.Config{MaxAttempts: 3, Backoff: 5 * time.Millisecond},
	})
	rcv := newReceiver(t, f.hookKey.Public().(ed25519.PublicKey), 100)
	body, _ := json.Marshal(map[string]string{"digest": randomDigest().String(), "callback": rcv.URL})
	if r := do(t, http.DefaultClient, http.MethodPost, f.url+"/v1/timestamps", "application/json", body); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	f.chain.set(anchorOf(waitCheckpoint(t, f.svc, 1), service.AnchorFinal, 1))
	var last delivery
	for range 3 {
		last = rcv.next(t)
	}
	rcv.quiet(t, 200*time.Millisecond)
	state, attempts, lastErr, _, err := f.db.WebhookState(t.Context(), last.webhookID(t))
	if err != nil || state != "failed" || attempts != 3 || !strings.Contains(lastErr, "503") {
		t.Errorf("state %q, %d attempts, last error %q, %v", state, attempts, lastErr, err)
	}
	var v api.StatusView
	getJSON(t, f.url+"/v1/status", &v)
	if v.Webhooks == nil || v.Webhooks.Failed != 1 || v.Webhooks.Pending != 0 {
		t.Errorf("status webhooks %+v", v.Webhooks)
	}
}

func TestWebhookPrivateAddresses(t *testing.T) {
	s := newStack(t, stackConfig{CheckpointInterval: 5 * time.Millisecond})
	chain := newFakeChain(s.svc)
	_, key, _ := ed25519.GenerateKey(nil)
	hooks, err := webhook.New(webhook.Config{Encode: api.TimestampJSON, Service: s.svc, Store: s.db, Key: key, Poll: 10 * time.Millisecond, Backoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, api.New(api.Config{Service: s.svc, Webhooks: hooks}))
	for _, cb := range []string{
		"http://127.0.0.1:9/hook", "http://[::1]/hook", "http://10.1.2.3/hook", "http://192.168.1.1/",
		"http://169.254.169.254/latest/meta-data", "http://localhost:8080/", "http://api.localhost/",
		"ftp://example.com/", "example.com/hook", "https://user:pass@example.com/", "https://example.com/#x",
		"http:///path", "https://example.com/" + strings.Repeat("x", 2100),
	} {
		body, _ := json.Marshal(map[string]string{"digest": randomDigest().String(), "callback": cb})
		r := do(t, http.DefaultClient, http.MethodPost, url+"/v1/timestamps", "application/json", body)
		wantError(t, r, 400, "bad_callback")
	}
	if s.svc.Size() != 0 {
		t.Error("a submission with a refused callback was logged")
	}

	// A name that resolves to a private address passes the form check, but is not dialled.
	rcv := newReceiver(t, key.Public().(ed25519.PublicKey), 0)
	named := strings.Replace(rcv.URL, "127.0.0.1", "localhost.", 1)
	if err := webhook.CheckURL(named, false); err == nil {
		t.Errorf("%s accepted", named)
	}
	d := randomDigest()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go hooks.Run(ctx)
	entries, err := s.svc.SubmitEntries(ctx, []notary.Digest{d})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := s.db.AddWebhook(ctx, webhook.Callback{Owner: "ip:127.0.0.1", URL: rcv.URL, Entries: []int64{entries[0].Index}}, time.Now(), 0) // past the form check
	if err != nil {
		t.Fatal(err)
	}
	chain.set(anchorOf(waitCheckpoint(t, s.svc, 1), service.AnchorFinal, 1))
	var lastErr string
	waitUntil(t, "attempt", func() bool {
		_, attempts, last, _, err := s.db.WebhookState(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		lastErr = last
		return attempts > 0
	})
	if !strings.Contains(lastErr, "not public") {
		t.Errorf("last error %q, want the address refused", lastErr)
	}

	rcv.quiet(t, 0)
}

// A change of the anchors that comes while the worker is busy, when its poll is due too,
// is not lost: the proof completing is seen whichever wakes the worker first. A lost change
// is never seen (nothing else changes), so only a hang reaches patience.
func TestWebhookChangeWithPollDue(t *testing.T) {
	for i := range 3 {
		f := newFull(t, fullConfig{
			stack:    stackConfig{CheckpointInterval: 5 * time.Millisecond},
			webhooks: webhook.Config{Poll: time.Microsecond}, // the poll is always due
		})
		rcv := newReceiver(t, f.hookKey.Public().(ed25519.PublicKey), 0)
		body, _ := json.Marshal(map[string]string{"digest": randomDigest().String(), "callback": rcv.URL})
		if r := do(t, http.DefaultClient, http.MethodPost, f.url+"/v1/timestamps", "application/json", body); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		f.chain.set(anchorOf(waitCheckpoint(t, f.svc, 1), service.AnchorFinal, 1))
		select {
		case <-rcv.got:
		case <-time.After(patience):
			t.Fatalf("round %d: no webhook within %v of the proof being complete", i, patience)
		}
	}
}

// TestWebhookCap: a client address, or an API key, with as many pending webhooks as it may
// is refused another with 429 too_many_webhooks and Retry-After, before anything is logged;
// a submission without a callback is not refused, nor is another owner.
func TestWebhookCap(t *testing.T) {
	f := newFull(t, fullConfig{
		stack:  stackConfig{CheckpointInterval: 5 * time.Millisecond},
		limits: api.Limits{WebhooksPerAddress: 2, WebhooksPerKey: 3},
	})
	rcv := newReceiver(t, f.hookKey.Public().(ed25519.PublicKey), 0)
	withCallback := func(d string) []byte {
		b, _ := json.Marshal(map[string]string{"digest": d, "callback": rcv.URL})
		return b
	}
	for range 2 { // no anchor: they stay pending
		if r := do(t, http.DefaultClient, http.MethodPost, f.url+"/v1/timestamps", "application/json", withCallback(randomDigest().String())); r.status != 200 {
			t.Fatalf("status %d, %s", r.status, r.body)
		}
	}
	size := f.svc.Size()
	r := do(t, http.DefaultClient, http.MethodPost, f.url+"/v1/timestamps", "application/json", withCallback(randomDigest().String()))
	msg := wantError(t, r, http.StatusTooManyRequests, "too_many_webhooks")
	if r.header.Get("Retry-After") != "60" || !strings.Contains(msg, "2 webhooks") || !strings.Contains(msg, "nothing was logged") {
		t.Errorf("Retry-After %q, message %q", r.header.Get("Retry-After"), msg)
	}
	batch, _ := json.Marshal(map[string]any{"digests": []string{randomDigest().String(), randomDigest().String()}, "callback": rcv.URL})
	r = do(t, http.DefaultClient, http.MethodPost, f.url+"/v1/timestamps/batch", "application/json", batch)
	wantError(t, r, http.StatusTooManyRequests, "too_many_webhooks")
	if f.svc.Size() != size {
		t.Errorf("refused submissions logged %d entries", f.svc.Size()-size)
	}
	if r := do(t, http.DefaultClient, http.MethodPost, f.url+"/v1/timestamps", "application/json", submitBody(randomDigest().String())); r.status != 200 {
		t.Errorf("without a callback: status %d, %s", r.status, r.body)
	}

	// A key is an owner of its own, with its own cap.
	token := createKey(t, f, "with-hook", rcv.URL)
	for i := range 4 {
		r := doH(t, http.MethodPost, f.url+"/v1/timestamps", submitBody(randomDigest().String()), "Content-Type", "application/json", "Authorization", "Bearer "+token)
		if i < 3 && r.status != 200 {
			t.Fatalf("keyed submission %d: %d %s", i+1, r.status, r.body)
		}
		if i == 3 {
			wantError(t, r, http.StatusTooManyRequests, "too_many_webhooks")
		}
	}
	if pending, _, err := f.db.WebhookCounts(t.Context()); pending != 5 || err != nil {
		t.Errorf("%d webhooks pending, %v; want 2 + 3", pending, err)
	}
}
