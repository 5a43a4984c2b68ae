package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
)

// patience bounds every wait of these tests for something that must happen: a checkpoint,
// an answer, a webhook, Run returning. It is far beyond what any of them takes on a busy
// machine, so that only a hang reaches it.
const patience = 2 * time.Minute

// stackConfig tunes a test stack; the zero value is a sensible default.
type stackConfig struct {
	CheckpointInterval time.Duration // default 20 ms
	MaxBatch           int           // default: the service's
}

// stack is a running notary without Bitcoin: a SQLite store in a temporary directory, a
// service whose Run is running, and the API behind a real HTTP server on loopback.
type stack struct {
	dbPath string
	signer note.Signer
	db     *store.DB
	store  *countingStore
	svc    *service.Service
	vkey   string
	url    string // base URL of the HTTP server, no trailing slash

	cancel  context.CancelFunc
	runDone chan error
	stopped atomic.Bool
}

// newStack starts a stack that is torn down when the test ends: HTTP server, then the
// service (Run must return without error), then the store.
func newStack(tb testing.TB, cfg stackConfig) *stack {
	tb.Helper()
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = 20 * time.Millisecond
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "notary.test/log")
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	s := &stack{dbPath: filepath.Join(tb.TempDir(), "notary.db"), signer: signer, vkey: vkey}
	if s.db, err = store.Open(s.dbPath); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.db.Close() })
	s.store = &countingStore{Store: s.db}

	ctx, cancel := context.WithCancel(context.Background())
	s.svc, err = service.New(ctx, service.Config{
		Signer:             signer,
		Verifier:           vkey,
		Store:              s.store,
		CheckpointInterval: cfg.CheckpointInterval,
		MaxBatch:           cfg.MaxBatch,
	})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	s.cancel = cancel
	s.runDone = make(chan error, 1)
	go func() { s.runDone <- s.svc.Run(ctx) }()
	tb.Cleanup(func() { s.stop(tb) })

	s.url = serve(tb, api.New(api.Config{Service: s.svc}))
	return s
}

// stop cancels the service's Run and waits for it to return.
func (s *stack) stop(tb testing.TB) {
	tb.Helper()
	if s.stopped.Swap(true) {
		return
	}
	s.cancel()
	select {
	case err := <-s.runDone:
		if err != nil {
			tb.Errorf("Run: %v", err)
		}
	case <-time.After(patience):
		tb.Errorf("Run did not return within %v of its context being cancelled", patience)
	}
}

// serve serves h on a net/http server listening on a fresh loopback port, configured as
// cmd/notary configures its own, and returns its base URL. The server is closed when the
// test ends.
func serve(tb testing.TB, h http.Handler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// countingStore counts the store's durable appends, to tell how the sequencer batches.
type countingStore struct {
	service.Store
	appends atomic.Int64 // AppendEntries calls
	entries atomic.Int64 // entries appended
	nanos   atomic.Int64 // time spent in AppendEntries
}

func (c *countingStore) AppendEntries(ctx context.Context, entries []notary.Entry, hashes []merkle.Hash) error {
	start := time.Now()
	err := c.Store.AppendEntries(ctx, entries, hashes)
	c.nanos.Add(int64(time.Since(start)))
	c.appends.Add(1)
	c.entries.Add(int64(len(entries)))
	return err
}

// reply is an HTTP answer read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the given content type (none if empty) and body and reads the answer.
func do(tb testing.TB, client *http.Client, method, url, contentType string, body []byte) reply {
	tb.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// submitBody is the JSON body of POST /v1/timestamps for digest hex d.
func submitBody(d string) []byte {
	b, _ := json.Marshal(map[string]string{"digest": d})
	return b
}

// randomDigest returns a digest no one has submitted.
func randomDigest() notary.Digest {
	var d notary.Digest
	rand.Read(d[:])
	return d
}

// waitUntil polls cond until it holds, failing the test after patience.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(patience); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, patience)
		}
	}
}
