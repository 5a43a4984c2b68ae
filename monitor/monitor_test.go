package monitor_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/monitor"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
)

// anchors is the Bitcoin side the API reports: the anchors it is told to list. The log
// under test is real; what the anchors claim is what a test makes the server say.
type anchors struct {
	mu   sync.Mutex
	list []service.Anchor
}

func (a *anchors) set(l ...service.Anchor) { a.mu.Lock(); a.list = l; a.mu.Unlock() }
func (a *anchors) Anchors() []service.Anchor {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]service.Anchor(nil), a.list...)
}
func (a *anchors) NextAnchor() (time.Time, bool)             { return time.Time{}, false }
func (a *anchors) NodeHeight(context.Context) (int64, error) { return 0, errors.New("no node") }
func (a *anchors) Wallet(context.Context) (api.Wallet, error) {
	return api.Wallet{}, errors.New("no wallet")
}
func (a *anchors) Covering(context.Context, int64) (*service.Anchor, error) { return nil, nil }

// logServer runs a notary log on a SQLite file behind the real API, on loopback, rate
// limited as limits says, and returns the service, its key and URL.
func logServer(t *testing.T, limits api.Limits, chain *anchors) (*service.Service, string, string) {
	svc, vkey, url, _ := logServerAt(t, filepath.Join(t.TempDir(), "notary.db"), limits, chain)
	return svc, vkey, url
}

// logServerAt is logServer on the SQLite file path; it returns the path too.
func logServerAt(t *testing.T, path string, limits api.Limits, chain *anchors) (*service.Service, string, string, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "notary.test/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := service.New(ctx, service.Config{Signer: signer, Verifier: vkey, Store: db, CheckpointInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.New(api.Config{Service: svc, Chain: chain, Limits: limits}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return svc, vkey, "http://" + ln.Addr().String(), path
}

// grow logs n fresh digests and waits for a checkpoint that covers them.
func grow(t *testing.T, svc *service.Service, n int) notary.Checkpoint {
	t.Helper()
	digests := make([]notary.Digest, n)
	for i := range digests {
		rand.Read(digests[i][:])
	}
	if _, err := svc.SubmitEntries(context.Background(), digests); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		if cp := svc.LatestCheckpoint(); cp.Size >= svc.Size() {
			return cp
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint covers the log")
		}
	}
}

// TestAnchorOfAnotherHistory has the log list an anchor whose root is not its tree's at
// the anchor's size: a split view, with the anchor and the checkpoint as evidence. Anchors
// that match are counted, and skipped once checked.
func TestAnchorOfAnotherHistory(t *testing.T) {
	chain := &anchors{}
	svc, vkey, url := logServer(t, api.Limits{}, chain)
	cp := grow(t, svc, 700)
	m, err := monitor.New(url, vkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := service.Anchor{Status: service.AnchorConfirmed, TxID: strings.Repeat("ab", 32), Size: cp.Size, Root: cp.Root}
	early, err := merkle.TreeHash(300, service.HashReader(t.Context(), svc))
	if err != nil {
		t.Fatal(err)
	}
	older := service.Anchor{Status: service.AnchorConfirmed, TxID: strings.Repeat("cd", 32), Size: 300, Root: early}
	chain.set(good, older)
	res, err := m.Check(context.Background(), &cp, nil)
	if err != nil || res.Anchors != 2 {
		t.Fatalf("two true anchors: %+v, %v", res, err)
	}
	if res, err := m.Check(context.Background(), &cp, map[string]bool{good.TxID: true, older.TxID: true}); err != nil || res.Anchors != 0 {
		t.Fatalf("anchors checked before: %+v, %v", res, err)
	}

	forged := older
	forged.TxID, forged.Root[0] = strings.Repeat("ef", 32), forged.Root[0]^1
	chain.set(good, forged)
	_, err = m.Check(context.Background(), &cp, map[string]bool{good.TxID: true})
	var split *monitor.SplitViewError
	if !errors.As(err, &split) || split.Anchor == nil || split.Anchor.TxID != forged.TxID {
		t.Fatalf("an anchor of another root: %v", err)
	}
	var ev strings.Builder
	split.Evidence(&ev)
	if !strings.Contains(ev.String(), forged.TxID) || !strings.Contains(ev.String(), string(cp.Note)) {
		t.Errorf("the evidence lacks the anchor or the checkpoint:\n%s", ev.String())
	}
}

// TestRateLimited reads a log whose server allows two requests a second: the monitor waits
// as Retry-After says and completes its check.
func TestRateLimited(t *testing.T) {
	chain := &anchors{}
	svc, vkey, url := logServer(t, api.Limits{Anonymous: api.Rate{PerSecond: 2, Burst: 2}}, chain)
	cp := grow(t, svc, 70000) // tiles at three levels
	counter := &statusCounter{}
	m, err := monitor.New(url, vkey, &http.Client{Transport: counter})
	if err != nil {
		t.Fatal(err)
	}
	prev, err := merkle.TreeHash(1000, service.HashReader(t.Context(), svc))
	if err != nil {
		t.Fatal(err)
	}
	old := notary.Checkpoint{Origin: cp.Origin, Size: 1000, Root: prev}
	res, err := m.Check(context.Background(), &old, nil)
	if err != nil || res.Checkpoint.Size != cp.Size || !res.Grew {
		t.Fatalf("Check through a rate limit: %+v, %v", res, err)
	}
	if counter.limited() == 0 {
		t.Error("the server never turned the monitor away: the test does not test waiting")
	}
}

// statusCounter is an HTTP transport that counts the answers 429.
type statusCounter struct {
	mu sync.Mutex
	n  int
}

func (c *statusCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
	return resp, err
}

func (c *statusCounter) limited() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestTilesOfAnotherTree alters a stored leaf hash under a running log: the tile that holds
// it no longer hashes to the checkpoint's root, and the monitor, which needs that tile to
// check the earlier checkpoint, reports the log invalid rather than a split view.
func TestTilesOfAnotherTree(t *testing.T) {
	svc, vkey, url, path := logServerAt(t, filepath.Join(t.TempDir(), "notary.db"), api.Limits{}, &anchors{})
	early := grow(t, svc, 5)
	grow(t, svc, 695)
	m, err := monitor.New(url, vkey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Check(context.Background(), &early, nil); err != nil {
		t.Fatalf("before the damage: %v", err)
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE hashes SET hash = ? WHERE id = ?", make([]byte, 32), merkle.StoredHashIndex(0, 3)); err != nil {
		t.Fatal(err)
	}
	_, err = m.Check(context.Background(), &early, nil)
	var split *monitor.SplitViewError
	if !errors.Is(err, monitor.ErrBadLog) || errors.As(err, &split) {
		t.Fatalf("tiles that do not hash to the checkpoint: %v, want ErrBadLog", err)
	}
}
