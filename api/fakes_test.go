package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
	"github.com/notary-dev/notary/webhook"
)

// fakeChain is the Bitcoin side, in memory: api.Chain for the API and service.AnchorSource
// for the service, both telling the same anchors. set changes them and wakes the service.
type fakeChain struct {
	svc *service.Service

	mu      sync.Mutex
	anchors []service.Anchor // newest first
	next    time.Time
	nextOK  bool
	height  int64
	nodeErr error
	wallet  api.Wallet
	calls   int // NodeHeight calls
	// reads counts Covering calls made for HTTP requests, by index: a long poll reads the
	// status of its entry each time it is woken, after taking the channel that wakes it.
	reads map[int64]int
}

var (
	_ api.Chain            = (*fakeChain)(nil)
	_ service.AnchorSource = (*fakeChain)(nil)
)

func newFakeChain(svc *service.Service) *fakeChain {
	c := &fakeChain{svc: svc, height: 120, wallet: api.Wallet{Network: "regtest", Address: "bcrt1qexample", Balance: 5_000_000_000, Spendable: 4_000_000_000}}
	svc.SetAnchors(c)
	return c
}

// set replaces the anchors (newest first) and tells the service.
func (c *fakeChain) set(anchors ...service.Anchor) {
	c.mu.Lock()
	c.anchors = anchors
	c.mu.Unlock()
	c.svc.AnchorsChanged()
}

func (c *fakeChain) Anchors() []service.Anchor {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]service.Anchor(nil), c.anchors...)
}

func (c *fakeChain) NextAnchor() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next, c.nextOK
}

func (c *fakeChain) NodeHeight(ctx context.Context) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return c.height, c.nodeErr
}

func (c *fakeChain) Wallet(ctx context.Context) (api.Wallet, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wallet, nil
}

// Covering is the anchorer's: the earliest final anchor whose size exceeds index, else
// the earliest other one.
func (c *fakeChain) Covering(ctx context.Context, index int64) (*service.Anchor, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ctx.Value(http.LocalAddrContextKey) != nil { // an HTTP request's, not the webhooks'
		if c.reads == nil {
			c.reads = map[int64]int{}
		}
		c.reads[index]++
	}
	var fallback *service.Anchor
	for i := len(c.anchors) - 1; i >= 0; i-- {
		a := c.anchors[i]
		if a.Size <= index {
			continue
		}
		if a.Status == service.AnchorFinal {
			return &a, nil
		}
		if fallback == nil {
			fallback = &a
		}
	}
	return fallback, nil
}

// readsOf returns how often HTTP requests have read the status of the entry at index.
func (c *fakeChain) readsOf(index int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads[index]
}

// waitReads waits until HTTP requests have read the status of the entry at index n times.
func (c *fakeChain) waitReads(t *testing.T, index int64, n int) {
	t.Helper()
	for deadline := time.Now().Add(patience); c.readsOf(index) < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("entry %d: %d reads of its status after %v, want %d", index, c.readsOf(index), patience, n)
		}
	}
}

// anchorOf returns an anchor of the given status committing checkpoint cp.
func anchorOf(cp notary.Checkpoint, status service.AnchorStatus, id int64) service.Anchor {
	a := service.Anchor{ID: id, Status: status, Size: cp.Size, Root: cp.Root,
		TxID: strings.Repeat("ab", 32), Fee: 210, Replacements: int(id)}
	if status == service.AnchorConfirmed || status == service.AnchorFinal {
		a.Height, a.Confirmations = 100+id, 1
		if status == service.AnchorFinal {
			a.Confirmations = 6
		}
		a.Bitcoin = &service.BitcoinAttestation{Network: "regtest", Tx: []byte{1, 2, 3}, Height: a.Height}
	}
	return a
}

// full is a stack whose API has every part: a fake chain, the SQLite database for API keys
// and webhooks, a webhook dispatcher, and the given limits.
type full struct {
	*stack
	chain    *fakeChain
	hooks    *webhook.Dispatcher
	hookKey  ed25519.PrivateKey
	url      string // the full API's base URL
	shutdown chan struct{}
}

type fullConfig struct {
	stack    stackConfig
	limits   api.Limits
	webhooks webhook.Config // Service, Store, Key and Encode are filled in
	noChain  bool
	pinger   api.Pinger // default: the database
}

func newFull(t testing.TB, cfg fullConfig) *full {
	t.Helper()
	s := newStack(t, cfg.stack)
	f := &full{stack: s, shutdown: make(chan struct{})}
	_, f.hookKey, _ = ed25519.GenerateKey(rand.Reader)
	wc := cfg.webhooks
	wc.Service, wc.Store, wc.Key, wc.Encode, wc.AllowPrivate = s.svc, s.db, f.hookKey, api.TimestampJSON, true
	if wc.Backoff == 0 {
		wc.Backoff = 20 * time.Millisecond
	}
	if wc.Poll == 0 {
		wc.Poll = 10 * time.Millisecond
	}
	var err error
	if f.hooks, err = webhook.New(wc); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.hooks.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	ac := api.Config{Service: s.svc, Database: s.db, Keys: s.db, Webhooks: f.hooks, Limits: cfg.limits, Shutdown: f.shutdown}
	if cfg.pinger != nil {
		ac.Database = cfg.pinger
	}
	if !cfg.noChain {
		f.chain = newFakeChain(s.svc)
		ac.Chain = f.chain
	}
	f.url = serve(t, api.New(ac))
	return f
}

// waitCheckpoint waits until the latest checkpoint covers the log's size n.
func waitCheckpoint(t testing.TB, svc *service.Service, n int64) notary.Checkpoint {
	t.Helper()
	for deadline := time.Now().Add(patience); ; time.Sleep(2 * time.Millisecond) {
		if cp := svc.LatestCheckpoint(); cp.Size >= n {
			return cp
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size %d within %v", n, patience)
		}
	}
}

// doH sends a request with headers (name, value pairs) and reads the answer.
func doH(tb testing.TB, method, url string, body []byte, headers ...string) reply {
	tb.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// failingPinger is a database that does not answer.
type failingPinger struct{}

func (failingPinger) Ping(context.Context) error { return errors.New("database is locked") }

var _ api.KeyStore = (*store.DB)(nil)
var _ webhook.Store = (*store.DB)(nil)
var _ api.Pinger = (*store.DB)(nil)
