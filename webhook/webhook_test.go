package webhook_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/internal/pgtest"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
	"github.com/notary-dev/notary/store/postgres"
	"github.com/notary-dev/notary/webhook"
)

// timestamp is what the tests read of a timestamp's JSON.
type timestamp struct {
	Digest string          `json:"digest"`
	Index  int64           `json:"index"`
	Status service.Status  `json:"status"`
	Proof  json.RawMessage `json:"proof"`
}

// patience guards against hangs only; no test waits for it unless something is wrong.
const patience = 60 * time.Second

// database is what the tests need of a store: the log and the webhooks.
type database interface {
	service.Store
	webhook.Store
}

// stores opens each real store: a SQLite file and a PostgreSQL database.
var stores = []struct {
	name string
	open func(t *testing.T) database
}{
	{"sqlite", func(t *testing.T) database {
		db, err := store.Open(filepath.Join(t.TempDir(), "notary.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}},
	{"postgres", func(t *testing.T) database {
		db, err := postgres.Open(context.Background(), pgtest.Shared(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}},
}

// chain is the Bitcoin side: one final anchor of a checkpoint, once set.
type chain struct {
	mu     sync.Mutex
	anchor *service.Anchor
}

func (c *chain) Covering(ctx context.Context, index int64) (*service.Anchor, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.anchor == nil || c.anchor.Size <= index {
		return nil, nil
	}
	a := *c.anchor
	return &a, nil
}

// logOf runs a service on db with n entries logged and anchored for good, and returns it
// with the entries.
func logOf(t *testing.T, db database, n int) (*service.Service, []notary.Entry) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := service.New(ctx, service.Config{
		Signer: logtest.Signer(t, logtest.LogSkey), Verifier: logtest.LogVkey, Store: db,
		CheckpointInterval: 5 * time.Millisecond,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	c := &chain{}
	svc.SetAnchors(c)
	digests := make([]notary.Digest, n)
	for i := range digests {
		_, _ = rand.Read(digests[i][:])
	}
	entries, err := svc.SubmitEntries(ctx, digests)
	if err != nil {
		t.Fatal(err)
	}
	cp := svc.LatestCheckpoint()
	for deadline := time.Now().Add(patience); cp.Size < int64(n); cp = svc.LatestCheckpoint() {
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of %d entries within %v", n, patience)
		}
		time.Sleep(2 * time.Millisecond)
	}
	c.mu.Lock()
	c.anchor = &service.Anchor{ID: 1, Status: service.AnchorFinal, Size: cp.Size, Root: cp.Root,
		TxID: strings.Repeat("ab", 32), Fee: 210, Height: 101, Confirmations: 6,
		Bitcoin: &service.BitcoinAttestation{Network: "regtest", Tx: []byte{1, 2, 3}, Height: 101}}
	c.mu.Unlock()
	svc.AnchorsChanged()
	return svc, entries
}

// run starts a dispatcher and returns a function that stops it and waits until it has.
func run(t *testing.T, cfg webhook.Config) (*webhook.Dispatcher, func()) {
	t.Helper()
	cfg.Encode, cfg.AllowPrivate = api.TimestampJSON, true
	if cfg.Poll == 0 {
		cfg.Poll = 10 * time.Millisecond
	}
	w, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return w, stop
}

// post is one request a receiver got.
type post struct {
	id        string
	body      []byte
	signature error
}

// receiver is a webhook receiver on loopback. While stalled, it holds every request until
// release is called (or the request is given up).
type receiver struct {
	*httptest.Server
	got chan post

	mu       sync.Mutex
	inFlight int // requests being held
	most     int // the most held at once
	answered int // requests answered
	release  chan struct{}
}

func newReceiver(t *testing.T, key ed25519.PublicKey, stalled bool) *receiver {
	r := &receiver{got: make(chan post, 100), release: make(chan struct{})}
	if !stalled {
		close(r.release)
	}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		p := post{id: req.Header.Get("Notary-Webhook-Id"), body: body}
		p.signature = notary.VerifyWebhook(key, req.Header.Get(notary.WebhookSignatureHeader), body, time.Now(), 5*time.Minute)
		r.mu.Lock()
		r.inFlight++
		r.most = max(r.most, r.inFlight)
		r.mu.Unlock()
		r.got <- p
		select {
		case <-r.release:
		case <-req.Context().Done():
		}
		r.mu.Lock()
		r.inFlight--
		r.answered++
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	t.Cleanup(r.unstall) // runs before Close: held requests return
	return r
}

func (r *receiver) unstall() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.release:
	default:
		close(r.release)
	}
}

func (r *receiver) state() (inFlight, most, answered int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inFlight, r.most, r.answered
}

func (r *receiver) next(t *testing.T) post {
	t.Helper()
	select {
	case p := <-r.got:
		return p
	case <-time.After(patience):
		t.Fatalf("no webhook within %v", patience)
	}
	panic("unreachable")
}

// waitPending waits until the store has n pending webhooks.
func waitPending(t *testing.T, db webhook.Store, n int64) {
	t.Helper()
	for deadline := time.Now().Add(patience); ; time.Sleep(5 * time.Millisecond) {
		pending, _, err := db.WebhookCounts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if pending == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d webhooks pending after %v, want %d", pending, patience, n)
		}
	}
}

// TestOwnersServedInTurn: client A has 40 webhooks queued for a receiver that holds every
// request and answers none; client B registers one after all of them. B's is delivered while
// A's receiver still holds A's first request, having seen no other (A takes one worker at a
// time), and A's 39 others still wait: A's stalled receiver and long queue do not delay B.
// Once A's receiver answers, all of A's are delivered too.
func TestOwnersServedInTurn(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			db := st.open(t)
			svc, entries := logOf(t, db, 41)
			_, key, _ := ed25519.GenerateKey(rand.Reader)
			pub := key.Public().(ed25519.PublicKey)
			a, b := newReceiver(t, pub, true), newReceiver(t, pub, false)
			hooks, _ := run(t, webhook.Config{Service: svc, Store: db, Key: key, Workers: 4, PerOwner: 1,
				Timeout: 2 * patience}) // A's requests are held, never timed out, while the test looks
			ctx := t.Context()
			for i := range 40 {
				if err := hooks.Register(ctx, webhook.Callback{Owner: "ip:192.0.2.1", URL: a.URL, Entries: []int64{entries[i].Index}}, 0); err != nil {
					t.Fatal(err)
				}
			}
			a.next(t) // A's first is being held
			if err := hooks.Register(ctx, webhook.Callback{Owner: "ip:198.51.100.7", URL: b.URL, Entries: []int64{entries[40].Index}}, 0); err != nil {
				t.Fatal(err)
			}
			got := b.next(t)
			if got.signature != nil {
				t.Error(got.signature)
			}
			var ts timestamp
			if err := json.Unmarshal(got.body, &ts); err != nil || ts.Digest != entries[40].Digest.String() {
				t.Errorf("B's webhook: %s, %v", got.body, err)
			}
			inFlight, most, answered := a.state()
			if inFlight != 1 || most != 1 || answered != 0 {
				t.Errorf("when B's was delivered, A's receiver held %d requests (at most %d at once) and answered %d; want 1, 1, 0",
					inFlight, most, answered)
			}
			if n, err := db.PendingWebhooks(ctx, "ip:192.0.2.1"); err != nil || n != 40 {
				t.Errorf("A's pending webhooks: %d, %v; want 40", n, err)
			}

			a.unstall()
			waitPending(t, db, 0)
			if _, most, answered := a.state(); answered != 40 || most != 1 {
				t.Errorf("A's receiver answered %d requests, at most %d at once; want 40, one at a time", answered, most)
			}
		})
	}
}

// TestBatchOnePost: a webhook of N entries is one POST, signed, whose body lists the N
// timestamps in the request's order (repeats included); a single submission's is the one
// timestamp, as a lookup answers.
func TestBatchOnePost(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			db := st.open(t)
			svc, entries := logOf(t, db, 6)
			_, key, _ := ed25519.GenerateKey(rand.Reader)
			rcv := newReceiver(t, key.Public().(ed25519.PublicKey), false)
			hooks, stop := run(t, webhook.Config{Service: svc, Store: db, Key: key})
			ctx := t.Context()
			batch := []int64{entries[3].Index, entries[0].Index, entries[4].Index, entries[0].Index, entries[1].Index}
			if err := hooks.Register(ctx, webhook.Callback{Owner: "key:ci", URL: rcv.URL, Entries: batch, Batch: true}, 0); err != nil {
				t.Fatal(err)
			}
			if err := hooks.Register(ctx, webhook.Callback{Owner: "key:ci", URL: rcv.URL + "/one", Entries: []int64{entries[5].Index}}, 0); err != nil {
				t.Fatal(err)
			}
			waitPending(t, db, 0)
			stop() // nothing is sent after this
			if len(rcv.got) != 2 {
				t.Fatalf("%d POSTs for a batch of 5 and a single submission, want 2", len(rcv.got))
			}
			for range 2 {
				p := <-rcv.got
				if p.signature != nil {
					t.Error(p.signature)
				}
				id, _ := strconv.ParseInt(p.id, 10, 64)
				if state, attempts, _, _, err := db.WebhookState(ctx, id); state != "delivered" || attempts != 1 || err != nil {
					t.Errorf("webhook %s: %s after %d attempts, %v", p.id, state, attempts, err)
				}
				if !strings.HasPrefix(string(p.body), `{"timestamps":`) {
					var ts timestamp
					if err := json.Unmarshal(p.body, &ts); err != nil || ts.Digest != entries[5].Digest.String() || ts.Status != service.StatusConfirmed {
						t.Errorf("single submission's body %.300s: %v", p.body, err)
					}
					continue
				}
				var body struct{ Timestamps []timestamp }
				if err := json.Unmarshal(p.body, &body); err != nil {
					t.Fatalf("batch body %.300s: %v", p.body, err)
				}
				var got []string
				for _, ts := range body.Timestamps {
					got = append(got, fmt.Sprintf("%d:%s", ts.Index, ts.Status))
					if _, err := notary.ParseProof(ts.Proof); err != nil {
						t.Errorf("entry %d: %v", ts.Index, err)
					}
				}
				var want []string
				for _, e := range batch {
					want = append(want, fmt.Sprintf("%d:%s", e, service.StatusConfirmed))
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("batch body lists %v, want %v", got, want)
				}
			}
		})
	}
}

// TestOwnerFull: Register refuses a callback past its owner's cap with ErrOwnerFull, and
// stores nothing; other owners are not refused.
func TestOwnerFull(t *testing.T) {
	db := stores[0].open(t)
	svc, entries := logOf(t, db, 1)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	hooks, _ := run(t, webhook.Config{Service: svc, Store: db, Key: key, Backoff: time.Hour})
	ctx := t.Context()
	cb := webhook.Callback{Owner: "ip:192.0.2.1", URL: "http://127.0.0.1:1/hook", Entries: []int64{entries[0].Index}}
	for range 2 {
		if err := hooks.Register(ctx, cb, 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := hooks.Register(ctx, cb, 2); !errors.Is(err, webhook.ErrOwnerFull) {
		t.Errorf("a third with a cap of 2: %v, want ErrOwnerFull", err)
	}
	if n, err := hooks.Pending(ctx, cb.Owner); n != 2 || err != nil {
		t.Errorf("Pending = %d, %v; want 2", n, err)
	}
	cb.Owner = "ip:192.0.2.2"
	if err := hooks.Register(ctx, cb, 2); err != nil {
		t.Errorf("another owner: %v", err)
	}
}
