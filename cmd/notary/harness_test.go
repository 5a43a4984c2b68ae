package main

// The harness of the end-to-end tests: a real btcd regtest node mining to the notary's own
// key, the whole stack (SQLite file, service, anchorer, HTTP server) as runStack runs it, and
// the client side driven over HTTP and through run as a user would.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/anchor"
	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/bitcoinrpc"
	"github.com/notary-dev/notary/internal/btcdnode"
	"github.com/notary-dev/notary/internal/btcdnode/btcdtest"
	"github.com/notary-dev/notary/internal/pgtest"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// matureBlocks is how many blocks make the first coinbase outputs spendable.
const matureBlocks = 110

// waitLimit bounds every wait of these tests for something that must happen: a block, a
// checkpoint, an answer, the stack stopping. It is far beyond what any of them takes on a
// busy machine, so that only a hang reaches it; no test asserts how fast the machine is.
const waitLimit = 3 * time.Minute

// httpClient is the tests' client: every request has a deadline.
var httpClient = &http.Client{Timeout: waitLimit}

// chain is a btcd regtest node whose coinbase pays the notary key in data.
type chain struct {
	node *btcdnode.Node
	data string // the notary's data directory, holding bitcoin.key
}

// startChain creates the notary's anchoring key in a fresh data directory and starts a btcd
// regtest node that mines to its address. The chain has no blocks yet.
func startChain(t *testing.T) *chain {
	t.Helper()
	return startChainWith(t, btcdnode.Options{})
}

// startChainWith is startChain with node options (MiningAddr and Dir are set here).
func startChainWith(t *testing.T, o btcdnode.Options) *chain {
	t.Helper()
	data := t.TempDir()
	key, err := anchor.LoadOrCreateKey(filepath.Join(data, "bitcoin.key"))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := anchor.Address(key, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	o.MiningAddr = addr.EncodeAddress()
	node := btcdtest.Start(t, o)
	return &chain{node: node, data: data}
}

// rpcURL is the node's JSON-RPC URL with its credentials, as a user passes it to verify --node.
func (c *chain) rpcURL() string {
	return fmt.Sprintf("http://%s:%s@%s", c.node.RPCUser(), c.node.RPCPass(), c.node.RPCHost())
}

// mine generates n blocks.
func (c *chain) mine(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if _, err := c.node.Generate(ctx, n); err != nil {
		t.Fatalf("mining %d block(s): %v", n, err)
	}
}

// call performs one JSON-RPC call on the node and decodes the result into out.
func (c *chain) call(t *testing.T, out any, method string, params ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	raw, err := c.node.Call(ctx, method, params...)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

// bestHash returns the hash of the node's best block.
func (c *chain) bestHash(t *testing.T) string {
	t.Helper()
	var h string
	c.call(t, &h, "getbestblockhash")
	return h
}

// mempool returns the txids in the node's mempool.
func (c *chain) mempool(t *testing.T) []string {
	t.Helper()
	var txids []string
	c.call(t, &txids, "getrawmempool")
	return txids
}

// running is a runStack running in a goroutine.
type running struct {
	*stack
	done   chan struct{} // closed when runStack has returned
	err    error         // runStack's result, valid once done is closed
	cancel context.CancelFunc
	logs   *syncBuffer
	once   sync.Once
}

// stackOptions adjust the flags of startStack.
type stackOptions struct {
	depth    int    // confirmations that make an anchor final; default 1
	nodeHost string // where the notary reaches the node's RPC; default the node itself
	db       string // the --db value; default the SQLite file of the chain's data directory
	// forceWriter writes the log without waiting to be elected (PostgreSQL).
	forceWriter bool
	// tilesEntries publishes the entry bundles (serve --tiles-entries).
	tilesEntries bool
	witness      witnessFlags // --witness, --witness-quorum
}

// stores are the databases the end-to-end tests that run on each give a stack: the
// default SQLite file, and a new PostgreSQL database.
var stores = []struct {
	name string
	db   func(t *testing.T) string
}{
	{"sqlite", func(*testing.T) string { return "" }},
	{"postgres", func(t *testing.T) string { return pgtest.Shared(t) }},
}

// startStack runs the notary on c's data directory and node, listening on a free loopback
// port, anchoring on regtest every second, never bumping fees during a test. It returns once
// the server listens; the stack stops when the test ends (or at stop).
func startStack(t *testing.T, c *chain, o stackOptions) *running {
	t.Helper()
	if o.depth == 0 {
		o.depth = 1
	}
	if o.nodeHost == "" {
		o.nodeHost = c.node.RPCHost()
	}
	node, err := anchor.NewRPC(bitcoinrpc.Config{Host: o.nodeHost, User: c.node.RPCUser(), Pass: c.node.RPCPass()})
	if err != nil {
		t.Fatal(err)
	}
	f := serveFlags{
		addr: "127.0.0.1:0",
		data: c.data,
		db:   o.db,
		anchor: anchorFlags{
			network: "regtest", interval: time.Second, bumpAfter: time.Hour,
			depth: o.depth, feeFloor: 1, feeCap: 50,
		},
	}
	f.forceWriter = o.forceWriter
	f.tilesEntries = o.tilesEntries
	f.witness = o.witness
	if f.witness.timeout == 0 {
		f.witness.timeout = 10 * time.Second
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{done: make(chan struct{}), cancel: cancel, logs: logs}
	ready := make(chan *stack, 1)
	go func() {
		defer close(r.done)
		r.err = runStack(ctx, f, node, log, func(s *stack) { ready <- s })
	}()
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() {
			t.Logf("notary log:\n%s", logs.String())
		}
	})
	select {
	case r.stack = <-ready:
	case <-r.done:
		t.Fatalf("runStack returned before serving: %v\n%s", r.err, logs.String())
	case <-time.After(waitLimit):
		t.Fatalf("runStack did not serve within %v\n%s", waitLimit, logs.String())
	}
	return r
}

// stop cancels the stack and waits for runStack to return; it fails the test if runStack
// hangs (waitLimit) or returns an error. Only the first call does anything.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case <-r.done:
			if r.err != nil {
				t.Errorf("runStack returned %v", r.err)
			}
		case <-time.After(waitLimit):
			t.Errorf("runStack did not return within %v of its context being cancelled", waitLimit)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for concurrent use: the stack's log.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// randomDigest returns a fresh random digest.
func randomDigest(t *testing.T) notary.Digest {
	t.Helper()
	var d notary.Digest
	if _, err := rand.Read(d[:]); err != nil {
		t.Fatal(err)
	}
	return d
}

// submit posts a digest as a client does and returns the receipt, whose proof must verify.
// It returns an error instead of failing the test, so that goroutines may call it.
func submit(base string, d notary.Digest) (api.TimestampView, error) {
	var r api.TimestampView
	body := `{"digest":"` + d.String() + `"}`
	resp, err := httpClient.Post(base+"/v1/timestamps", "application/json", strings.NewReader(body))
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return r, err
	}
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("POST /v1/timestamps %s: %s: %s", d, resp.Status, raw)
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("POST /v1/timestamps %s: %v", d, err)
	}
	if r.Digest != d.String() || r.Proof == nil {
		return r, fmt.Errorf("POST /v1/timestamps %s: receipt for digest %s, with proof %v", d, r.Digest, r.Proof != nil)
	}
	if v, err := notary.Verify(r.Proof, r.Proof.OwnKey()); err != nil || v.Index != r.Index || v.Digest != d {
		return r, fmt.Errorf("POST /v1/timestamps %s: the receipt's proof does not verify for entry %d: %v", d, r.Index, err)
	}
	return r, nil
}

// mustSubmit submits d and fails the test on error.
func mustSubmit(t *testing.T, base string, d notary.Digest) api.TimestampView {
	t.Helper()
	r, err := submit(base, d)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// lookup gets GET /v1/timestamps/{d}.
func lookup(base string, d notary.Digest) (api.TimestampView, error) {
	var ts api.TimestampView
	resp, err := httpClient.Get(base + "/v1/timestamps/" + d.String())
	if err != nil {
		return ts, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return ts, err
	}
	if resp.StatusCode != http.StatusOK {
		return ts, fmt.Errorf("GET /v1/timestamps/%s: %s: %s", d, resp.Status, raw)
	}
	if err := json.Unmarshal(raw, &ts); err != nil {
		return ts, fmt.Errorf("GET /v1/timestamps/%s: %v", d, err)
	}
	return ts, nil
}

// mustLookup looks d up and fails the test on error.
func mustLookup(t *testing.T, base string, d notary.Digest) api.TimestampView {
	t.Helper()
	ts, err := lookup(base, d)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// logKey returns the log key the stack publishes at GET /v1/keys, as a verifier learns it.
func (r *running) logKey(t *testing.T) string {
	t.Helper()
	resp, err := httpClient.Get(r.url + "/v1/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var keys api.KeysView
	if err := json.NewDecoder(resp.Body).Decode(&keys); err != nil || resp.StatusCode != http.StatusOK || keys.LogKey == "" {
		t.Fatalf("GET /v1/keys: %s, %+v, %v", resp.Status, keys, err)
	}
	return keys.LogKey
}

// logKeys returns the stack's published log key as the verifiers to pass to notary.Verify.
func (r *running) logKeys(t *testing.T) note.Verifiers {
	t.Helper()
	v, err := note.NewVerifier(r.logKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return note.VerifierList(v)
}

// checkpointSize returns the size in the service's latest checkpoint.
func checkpointSize(base string) (int64, error) {
	resp, err := httpClient.Get(base + "/v1/checkpoint")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /v1/checkpoint: %s: %s", resp.Status, raw)
	}
	lines := strings.Split(string(raw), "\n")
	if len(lines) < 3 {
		return 0, fmt.Errorf("GET /v1/checkpoint: not a checkpoint: %q", raw)
	}
	return strconv.ParseInt(lines[1], 10, 64)
}

// waitFor polls cond every 100 ms until it reports true, failing the test with cond's last
// error (or what) if that does not happen within timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("after %v, still not %s: %v", timeout, what, err)
			}
			t.Fatalf("after %v, still not %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitCheckpoint waits until the latest checkpoint holds at least size entries.
func waitCheckpoint(t *testing.T, base string, size int64) {
	t.Helper()
	waitFor(t, waitLimit, fmt.Sprintf("in a checkpoint of size %d", size), func() (bool, error) {
		n, err := checkpointSize(base)
		return err == nil && n >= size, err
	})
}

// waitStatus waits until d's lookup satisfies cond and returns that lookup.
func waitStatus(t *testing.T, base string, d notary.Digest, what string, cond func(api.TimestampView) bool) api.TimestampView {
	t.Helper()
	var ts api.TimestampView
	waitFor(t, waitLimit, what, func() (bool, error) {
		var err error
		ts, err = lookup(base, d)
		return err == nil && cond(ts), err
	})
	return ts
}

// inMempool reports whether the lookup shows an anchoring transaction waiting for a block.
func inMempool(ts api.TimestampView) bool {
	return ts.Status == service.StatusAnchored && ts.Anchor != nil && ts.Anchor.Status == service.AnchorMempool
}

// waitBroadcast waits until d is anchored by a transaction that the node has in its
// mempool, and returns the lookup. The service reports the anchor before it has reached the
// node, so a test must check the node before it mines the block meant to take it.
func waitBroadcast(t *testing.T, c *chain, base string, d notary.Digest) api.TimestampView {
	t.Helper()
	var ts api.TimestampView
	waitFor(t, waitLimit, "anchored by a transaction in the node's mempool", func() (bool, error) {
		var err error
		ts, err = lookup(base, d)
		return err == nil && inMempool(ts) && slices.Contains(c.mempool(t), ts.Anchor.TxID), err
	})
	return ts
}

// mineUntilConfirmed mines a block whenever an anchor covering one of the digests waits for
// one (in the mempool, or in a block not yet deep enough), until every digest is confirmed.
// It returns the last lookup of each digest, and fails the test after waitLimit.
func mineUntilConfirmed(t *testing.T, c *chain, base string, digests []notary.Digest) map[notary.Digest]api.TimestampView {
	t.Helper()
	done := make(map[notary.Digest]api.TimestampView, len(digests))
	remaining := append([]notary.Digest(nil), digests...)
	deadline := time.Now().Add(waitLimit)
	for len(remaining) > 0 {
		// Look up digests in order until one is not confirmed: it says whether to mine.
		var waiting *api.TimestampView
		for len(remaining) > 0 {
			d := remaining[0]
			ts := mustLookup(t, base, d)
			if ts.Status != service.StatusConfirmed {
				waiting = &ts
				break
			}
			done[d] = ts
			remaining = remaining[1:]
		}
		if waiting == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %d digest(s) not confirmed; the first: status %s, anchor %+v", waitLimit, len(remaining), waiting.Status, waiting.Anchor)
		}
		if a := waiting.Anchor; a != nil && (a.Status == service.AnchorConfirmed ||
			a.Status == service.AnchorMempool && slices.Contains(c.mempool(t), a.TxID)) {
			c.mine(t, 1)
		}
		time.Sleep(150 * time.Millisecond)
	}
	return done
}

// cli runs the notary command line in-process and returns its exit code and output.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var out, errOut bytes.Buffer
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// wantCLI runs the command line and fails the test unless it exits with want; it returns
// the output.
func wantCLI(t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := cli(t, args...)
	if code != want {
		t.Fatalf("notary %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout, stderr
}

// writeProofFile writes p as a proof file in dir and returns its path.
func writeProofFile(t *testing.T, dir, name string, p *notary.Proof) string {
	t.Helper()
	data, err := notary.MarshalProof(p)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readProofFile parses a proof file.
func readProofFile(t *testing.T, path string) *notary.Proof {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := notary.ParseProof(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return p
}

// errLine returns the "error:" line of a command's stderr, or "".
func errLine(stderr string) string {
	for line := range strings.SplitSeq(stderr, "\n") {
		if strings.HasPrefix(line, "error: ") {
			return line
		}
	}
	return ""
}

// noteLine returns the "note: " line of stderr, or "".
func noteLine(stderr string) string {
	for line := range strings.SplitSeq(stderr, "\n") {
		if strings.HasPrefix(line, "note: ") {
			return line
		}
	}
	return ""
}

// hasLine reports whether out has a line starting with prefix.
func hasLine(out, prefix string) bool {
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}

// writeFile writes a file, failing the test on error.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
