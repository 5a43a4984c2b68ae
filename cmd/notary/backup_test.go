package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/notary-dev/notary/anchor"
	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/bitcoinrpc"
	"github.com/notary-dev/notary/internal/pgtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
)

// TestBackupRestoreReorigin backs a live log up while clients keep submitting, checks
// that the copy is a log the service signed, then loses the data directory's database
// and restores the copy: serve refuses it (signed-head is ahead of it), reorigin
// continues the log under a new origin and key, and the restored log serves its old
// entries, the anchored one with a complete proof that still verifies against the node,
// and logs and anchors new digests, though an anchor made after the backup spent the coin
// its wallet state holds.
func TestBackupRestoreReorigin(t *testing.T) {
	t.Parallel()
	c := startChain(t)
	s := startStack(t, c, stackOptions{})
	oldKey := s.logKey(t)
	c.mine(t, matureBlocks)

	// An entry anchored and final before the backup.
	anchored := randomDigest(t)
	mustSubmit(t, s.url, anchored)
	mineUntilConfirmed(t, c, s.url, []notary.Digest{anchored})

	// A log of some size, so that the copy takes a while.
	for range 20 {
		submitBatch(t, s.url, 1000)
	}

	// Clients submit throughout the backup.
	var (
		stop      = make(chan struct{})
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies []time.Duration
		failures  []error
		during    atomic.Int64 // submissions both sent and answered while the backup ran
		backingUp atomic.Bool
	)
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				before := backingUp.Load()
				start := time.Now()
				_, err := submit(s.url, randomDigest(t))
				took := time.Since(start)
				mu.Lock()
				latencies = append(latencies, took)
				if err != nil {
					failures = append(failures, err)
				}
				mu.Unlock()
				if before && backingUp.Load() {
					during.Add(1)
				}
			}
		})
	}
	answered := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(latencies)
	}
	// The load runs before, during and after the backup: some submissions answered on
	// either side of it.
	waitFor(t, waitLimit, "the load to start", func() (bool, error) { return answered() >= 8, nil })
	dest := filepath.Join(t.TempDir(), "notary-backup.db")
	backingUp.Store(true)
	stdout, _ := wantCLI(t, exitOK, "backup", "--data", c.data, dest)
	backingUp.Store(false)
	answeredDuring := answered()
	waitFor(t, waitLimit, "submissions after the backup", func() (bool, error) { return answered() >= answeredDuring+8, nil })
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d submissions failed during the backup; the first: %v", len(failures), len(latencies), failures[0])
	}
	slices.Sort(latencies)
	t.Logf("backup: %d submissions answered while it ran; submissions around it: %d, p99 %v, max %v",
		during.Load(), len(latencies), latencies[len(latencies)*99/100], latencies[len(latencies)-1])
	if !hasLine(stdout, "ok   "+dest+": a copy of the log") {
		t.Errorf("backup output:\n%s", stdout)
	}
	if _, err := os.Stat(dest + "-wal"); err == nil {
		t.Errorf("backup left %s-wal beside the copy", dest)
	}

	// The copy is a log the service signed: its latest checkpoint, signed by the log's key,
	// is the service's own, and the copy's entries give its root; its entries are the live log's.
	copySize, copyCP := openCopy(t, dest, oldKey)
	live, err := store.Open(filepath.Join(c.data, "notary.db"))
	if err != nil {
		t.Fatal(err)
	}
	liveCP, err := live.Checkpoint(context.Background(), copyCP.Size)
	if err != nil || !bytes.Equal(liveCP.Note, copyCP.Note) {
		t.Fatalf("the copy's latest checkpoint (size %d) is not the one the service stored: %v", copyCP.Size, err)
	}
	liveRoot, err := merkle.TreeHash(copySize, service.HashReader(t.Context(), live))
	live.Close()
	if err != nil {
		t.Fatal(err)
	}
	copyDB, err := store.Open(dest)
	if err != nil {
		t.Fatal(err)
	}
	copyRoot, err := merkle.TreeHash(copySize, service.HashReader(t.Context(), copyDB))
	copyDB.Close()
	if err != nil || copyRoot != liveRoot {
		t.Fatalf("the copy's %d entries have root %s (%v), the live log's first %d have %s", copySize, copyRoot, err, copySize, liveRoot)
	}
	// Logged and anchored after the backup: lost with the disk, though its anchor, which
	// spent the wallet's coin, stays in the chain.
	after := randomDigest(t)
	mustSubmit(t, s.url, after)
	mineUntilFinal(t, c, s.url, after)
	s.stop(t)

	// The disk dies; the copy is restored beside the surviving keys and signed-head.
	for _, name := range []string{"notary.db", "notary.db-wal", "notary.db-shm", "notary.db-digests"} {
		if err := os.RemoveAll(filepath.Join(c.data, name)); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, dest, filepath.Join(c.data, "notary.db"))
	err = runStackOnce(t, c)
	if err == nil || !strings.Contains(err.Error(), "the log's key signed a checkpoint of size") || !strings.Contains(err.Error(), "refusing to start") {
		t.Fatalf("serve on a restored copy behind signed-head: %v; want a refusal", err)
	}

	// reorigin continues the log under a new key, and says what is lost.
	wantCLI(t, exitUsage, "reorigin", "--data", c.data)
	_, stderr := wantCLI(t, exitUsage, "reorigin", "--data", c.data, "--origin", "notary.localhost/log")
	if !strings.Contains(stderr, "the old log's name") {
		t.Errorf("reorigin to the same origin:\n%s", stderr)
	}
	stdout, _ = wantCLI(t, exitOK, "reorigin", "--data", c.data, "--origin", "restored.example/log2")
	for _, want := range []string{"the log notary.localhost/log ends here", "cannot be honoured",
		"continues as restored.example/log2", "signed again by the new key", "--origin restored.example/log2"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("reorigin output lacks %q:\n%s", want, stdout)
		}
	}
	_, stderr = wantCLI(t, exitUsage, "reorigin", "--data", c.data, "--origin", "restored.example/log3")
	if !strings.Contains(stderr, "holds every entry") {
		t.Errorf("reorigin of a log that lost nothing:\n%s", stderr)
	}

	// The restored log serves under the new key: its old entries, the anchored one complete.
	s2 := startStack(t, c, stackOptions{})
	newKey := s2.logKey(t)
	if newKey == oldKey || !strings.HasPrefix(newKey, "restored.example/log2+") {
		t.Fatalf("after reorigin the log key is %s (was %s)", newKey, oldKey)
	}
	ts := mustLookup(t, s2.url, anchored)
	if ts.Status != service.StatusConfirmed || ts.Proof == nil || !ts.Proof.Complete() {
		t.Fatalf("the entry anchored before the backup: status %s, complete %v", ts.Status, ts.Proof != nil && ts.Proof.Complete())
	}
	dir := t.TempDir()
	proof := writeProofFile(t, dir, "anchored.proof.json", ts.Proof)
	wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), "--key", newKey, "--digest", anchored.String(), proof)
	if _, err := lookup(s2.url, after); err == nil {
		t.Errorf("the digest logged after the backup is still found")
	}
	fresh := randomDigest(t)
	r := mustSubmit(t, s2.url, fresh)
	if r.Index != copySize {
		t.Errorf("the first new entry has index %d, want %d (the restored log's size)", r.Index, copySize)
	}
	ts = mineUntilFinal(t, c, s2.url, fresh)
	v, err := notary.Verify(ts.Proof, s2.logKeys(t))
	if err != nil || !v.Complete {
		t.Fatalf("a digest logged after reorigin: %v, complete %v", err, err == nil && v.Complete)
	}
}

// mineUntilFinal mines a block whenever the node's mempool holds a transaction, until d is
// confirmed, and returns its lookup: an earlier anchor may still wait for a block before the
// one that covers d is made.
func mineUntilFinal(t *testing.T, c *chain, base string, d notary.Digest) api.TimestampView {
	t.Helper()
	return waitStatus(t, base, d, "confirmed", func(ts api.TimestampView) bool {
		if len(c.mempool(t)) > 0 {
			c.mine(t, 1)
		}
		return ts.Status == service.StatusConfirmed
	})
}

// openCopy opens a backup, checks that its latest checkpoint is signed by vkey and that
// its entries give that checkpoint's root, and returns its size and that checkpoint.
func openCopy(t *testing.T, path, vkey string) (int64, notary.Checkpoint) {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatalf("the copy does not open: %v", err)
	}
	defer db.Close()
	ctx := context.Background()
	n, err := db.LogSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := db.LatestCheckpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := notary.OpenCheckpoint(stored.Note, vkey)
	if err != nil {
		t.Fatalf("the copy's latest checkpoint is not the log's: %v", err)
	}
	root, err := merkle.TreeHash(cp.Size, service.HashReader(ctx, db))
	if err != nil || root != cp.Root || cp.Size > n || n < 20000 {
		t.Fatalf("the copy holds %d entries, root %s at size %d (%v); its checkpoint says %s", n, root, cp.Size, err, cp.Root)
	}
	return n, cp
}

// runStackOnce runs the stack on c's data directory as startStack does, and returns the
// error it stops with; it fails the test if the stack starts serving.
func runStackOnce(t *testing.T, c *chain) error {
	t.Helper()
	node, err := anchor.NewRPC(bitcoinrpc.Config{Host: c.node.RPCHost(), User: c.node.RPCUser(), Pass: c.node.RPCPass()})
	if err != nil {
		t.Fatal(err)
	}
	f := serveFlags{addr: "127.0.0.1:0", data: c.data, anchor: anchorFlags{
		network: "regtest", interval: time.Second, bumpAfter: time.Hour, depth: 1, feeFloor: 1, feeCap: 50}}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	served := false
	err = runStack(ctx, f, node, slog.New(slog.DiscardHandler), func(*stack) { served = true; cancel() })
	if served {
		t.Fatal("the stack served")
	}
	if err == nil {
		err = errors.New("runStack returned no error")
	}
	return err
}

// copyFile copies a file, failing the test on error.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBackupUsage checks what backup and reorigin answer when they cannot run: exit 2 and
// an error that says why, and no file written.
func TestBackupUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exists := filepath.Join(dir, "exists.db")
	writeFile(t, exists, "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no destination", []string{"backup", "--data", dir}, "backup takes one destination file"},
		{"two destinations", []string{"backup", "--data", dir, "a.db", "b.db"}, "backup takes one destination file"},
		{"destination exists", []string{"backup", "--data", dir, exists}, exists + " exists"},
		{"no log key", []string{"backup", "--data", dir, filepath.Join(dir, "new.db")}, "reading the log key"},
		{"reorigin without origin", []string{"reorigin", "--data", dir}, "reorigin needs --origin"},
		{"reorigin without log key", []string{"reorigin", "--data", dir, "--origin", "x.example/log"}, "no log key at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr := wantCLI(t, exitUsage, tt.args...)
			if !strings.Contains(errLine(stderr), tt.want) {
				t.Errorf("notary %s: stderr lacks %q:\n%s", strings.Join(tt.args, " "), tt.want, stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "new.db")); err == nil {
		t.Errorf("a refused backup wrote its destination")
	}
}

// TestReoriginPostgres retires the key of a log on PostgreSQL (--force: it lost nothing)
// and checks that the log goes on under the new key: its anchored entry keeps a complete
// proof that verifies against the node, and new entries are signed by the new key.
func TestReoriginPostgres(t *testing.T) {
	t.Parallel()
	c := startChain(t)
	db := pgtest.Shared(t)
	s := startStack(t, c, stackOptions{db: db})
	c.mine(t, matureBlocks)
	anchored := randomDigest(t)
	mustSubmit(t, s.url, anchored)
	mineUntilFinal(t, c, s.url, anchored)
	s.stop(t)

	_, stderr := wantCLI(t, exitUsage, "reorigin", "--data", c.data, "--db", db, "--origin", "pg.example/log2")
	if !strings.Contains(stderr, "holds every entry") || !strings.Contains(stderr, "--force") {
		t.Errorf("reorigin of a log that lost nothing, without --force:\n%s", stderr)
	}
	stdout, _ := wantCLI(t, exitOK, "reorigin", "--data", c.data, "--db", db, "--origin", "pg.example/log2", "--force")
	if !strings.Contains(stdout, "continues as pg.example/log2") {
		t.Errorf("reorigin output:\n%s", stdout)
	}

	s2 := startStack(t, c, stackOptions{db: db})
	newKey := s2.logKey(t)
	if !strings.HasPrefix(newKey, "pg.example/log2+") {
		t.Fatalf("after reorigin the log key is %s", newKey)
	}
	ts := mustLookup(t, s2.url, anchored)
	if ts.Status != service.StatusConfirmed || ts.Proof == nil || !ts.Proof.Complete() {
		t.Fatalf("the anchored entry after reorigin: status %s", ts.Status)
	}
	proof := writeProofFile(t, t.TempDir(), "anchored.proof.json", ts.Proof)
	wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), "--key", newKey, "--digest", anchored.String(), proof)
	r := mustSubmit(t, s2.url, randomDigest(t))
	if _, err := notary.Verify(r.Proof, s2.logKeys(t)); err != nil {
		t.Errorf("a receipt after reorigin does not verify under the new key: %v", err)
	}
}
