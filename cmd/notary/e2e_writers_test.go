package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/internal/pgtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// TestE2ETwoWriters runs a second process on the database of a first one, with copies of
// its keys, as an operator who starts a replacement before the old process is gone: the
// second leads, the first's next submission fails cleanly (503 not_writer) and it stops,
// exactly one process extends the log, and every receipt either gave is in it, in
// checkpoints consistent with each other.
func TestE2ETwoWriters(t *testing.T) {
	t.Parallel()
	db := pgtest.Shared(t)
	c := startChain(t)
	first := startStack(t, c, stackOptions{db: db})
	var receipts []notary.Digest
	for range 5 {
		d := randomDigest(t)
		mustSubmit(t, first.url, d)
		receipts = append(receipts, d)
	}
	oldCheckpoint := first.svc.LatestCheckpoint()

	// The second process: another data directory holding the same keys.
	c2 := &chain{node: c.node, data: t.TempDir()}
	for _, key := range []string{"log.key", "bitcoin.key", "webhook.key"} {
		data, err := os.ReadFile(filepath.Join(c.data, key))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c2.data, key), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Forced to write at once, as two processes that both believe they were elected.
	second := startStack(t, c2, stackOptions{db: db, forceWriter: true})
	if second.svc.Epoch() <= first.svc.Epoch() {
		t.Fatalf("second epoch %d, first %d", second.svc.Epoch(), first.svc.Epoch())
	}

	refused := randomDigest(t)
	_, err := submit(first.url, refused)
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "not_writer") {
		t.Fatalf("submission to the deposed process: %v, want 503 not_writer", err)
	}
	select {
	case <-first.done:
	case <-time.After(waitLimit):
		t.Fatal("the deposed process did not stop")
	}
	first.once.Do(func() {}) // its error is the point of the test, not a failure
	if !errors.Is(first.err, service.ErrDeposed) || !errors.Is(first.err, service.ErrFenced) {
		t.Errorf("the deposed process stopped with %v, want ErrDeposed wrapping ErrFenced", first.err)
	}

	// The second writes; it holds every receipt of the first at its index.
	for _, d := range append(receipts, refused) {
		mustSubmit(t, second.url, d)
	}
	for i, d := range receipts {
		if got := mustLookup(t, second.url, d); got.Index != int64(i) {
			t.Errorf("receipt %d of the first process is at index %d in the log", i, got.Index)
		}
	}
	if got := mustLookup(t, second.url, refused); got.Index != int64(len(receipts)) {
		t.Errorf("the refused digest, submitted again, got index %d, want %d", got.Index, len(receipts))
	}
	waitCheckpoint(t, second.url, int64(len(receipts)+1))
	newCheckpoint := second.svc.LatestCheckpoint()
	proof, err := second.svc.ProveConsistency(t.Context(), oldCheckpoint.Size, newCheckpoint.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := merkle.VerifyConsistency(oldCheckpoint.Size, newCheckpoint.Size, oldCheckpoint.Root, newCheckpoint.Root, proof.Proof); err != nil {
		t.Errorf("the first process's last checkpoint and the second's are not consistent: %v", err)
	}
}
