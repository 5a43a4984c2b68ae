package service_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver, to tamper with a store behind its back

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
)

// openStore opens the SQLite store at path; it is closed when the test ends.
func openStore(tb testing.TB, path string) *store.DB {
	tb.Helper()
	db, err := store.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// testConfig returns the configuration of a service on db that checkpoints every 20 ms.
func testConfig(tb testing.TB, db service.Store) service.Config {
	return service.Config{
		Signer:             newSigner(tb, logSkey),
		Verifier:           logVkey,
		Store:              db,
		CheckpointInterval: 20 * time.Millisecond,
		ServiceURL:         serviceURL,
	}
}

func newService(tb testing.TB, cfg service.Config) *service.Service {
	tb.Helper()
	s, err := service.New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("service.New: %v", err)
	}
	return s
}

// running is a Service whose Run is running.
type running struct {
	*service.Service
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// start runs s until stop is called or the test ends.
func start(tb testing.TB, s *service.Service) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Service: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	tb.Cleanup(func() { r.stop(tb) })
	return r
}

// stop cancels Run's context and waits for Run to return. Later calls do nothing.
func (r *running) stop(tb testing.TB) {
	tb.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				tb.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Error("Run did not return within 10 s of its context being cancelled")
		}
	})
}

// newRunning returns a running service on a new store in a temporary directory.
func newRunning(tb testing.TB) (*running, *store.DB) {
	tb.Helper()
	db := openStore(tb, filepath.Join(tb.TempDir(), "notary.db"))
	return start(tb, newService(tb, testConfig(tb, db))), db
}

// eventually polls cond until it holds, failing the test after 20 s.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// digests returns n digests named by label.
func digests(label string, n int) []notary.Digest {
	out := make([]notary.Digest, n)
	for i := range out {
		out[i] = sha256.Sum256(fmt.Appendf(nil, "%s %d", label, i))
	}
	return out
}

func TestNewNeedsConfig(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "notary.db"))
	full := testConfig(t, db)
	tests := []struct {
		name string
		edit func(*service.Config)
	}{
		{"no signer", func(c *service.Config) { c.Signer = nil }},
		{"no verifier key", func(c *service.Config) { c.Verifier = "" }},
		{"no store", func(c *service.Config) { c.Store = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := full
			tt.edit(&cfg)
			if _, err := service.New(context.Background(), cfg); err == nil {
				t.Error("New accepted an incomplete Config")
			}
		})
	}
}

// sameEntry reports whether a and b are the same log entry: index, digest, time and nonce.
func sameEntry(a, b notary.Entry) bool {
	return a.Index == b.Index && a.Digest == b.Digest && a.Time.Equal(b.Time) && a.Nonce == b.Nonce
}

// checkSubmitted checks the timestamp that Submit(d) returned, sizeAfter being the log's size
// once it had: a pending proof of d's entry that verifies, as a file too, in a checkpoint
// signed by the service's key, of a size that holds the entry and no more than sizeAfter
// entries, which Timestamp.Checkpoint gives parsed. It returns that checkpoint.
func checkSubmitted(t *testing.T, s *service.Service, ts *service.Timestamp, d notary.Digest, sizeAfter int64) notary.Checkpoint {
	t.Helper()
	e := ts.Entry
	if e.Digest != d {
		t.Fatalf("Submit(%v) returned the entry of %v", d, e.Digest)
	}
	if ts.Status != service.StatusPending || ts.Anchor != nil {
		t.Errorf("Submit(%v): status %s, anchor %v; want pending without an anchor", d, ts.Status, ts.Anchor)
	}
	if ts.Proof == nil || ts.Checkpoint == nil {
		t.Fatalf("Submit(%v): proof %v, checkpoint %v; want both", d, ts.Proof, ts.Checkpoint)
	}
	if ts.Proof.Complete() {
		t.Errorf("Submit(%v) returned a complete proof, want a pending one", d)
	}
	p, err := notary.ParseProof(marshal(t, ts.Proof))
	if err != nil {
		t.Fatalf("Submit(%v): the proof file does not parse: %v", d, err)
	}
	v, err := notary.Verify(p, p.OwnKey())
	if err != nil {
		t.Fatalf("Submit(%v): the proof does not verify: %v", d, err)
	}
	if v.Digest != d || v.Index != e.Index || !v.Received.Equal(e.Time) || v.Complete || v.Key != s.VerifierKey() {
		t.Errorf("Submit(%v): Verified = digest %v, index %d, received %v, complete %v, key %s; want %v, %d, %v, false, %s",
			d, v.Digest, v.Index, v.Received, v.Complete, v.Key, d, e.Index, e.Time, s.VerifierKey())
	}
	if pe, err := ts.Proof.LogEntry(); err != nil || !sameEntry(pe, e) {
		t.Errorf("Submit(%v): the proof is of the entry %+v (%v), want the timestamp's %+v", d, pe, err, e)
	}
	cp, err := notary.OpenCheckpoint([]byte(ts.Proof.Log.Checkpoint), s.VerifierKey())
	if err != nil {
		t.Fatalf("Submit(%v): the proof's checkpoint does not open with the service's key: %v", d, err)
	}
	if cp.Size <= e.Index || cp.Size > sizeAfter {
		t.Errorf("Submit(%v): entry %d is proved in a checkpoint of size %d, want a size in [%d, %d]",
			d, e.Index, cp.Size, e.Index+1, sizeAfter)
	}
	if c := ts.Checkpoint; c.Origin != cp.Origin || c.Size != cp.Size || c.Root != cp.Root || !bytes.Equal(c.Note, cp.Note) {
		t.Errorf("Submit(%v): Timestamp.Checkpoint = %s size %d root %v, want the proof's: %s size %d root %v",
			d, c.Origin, c.Size, c.Root, cp.Origin, cp.Size, cp.Root)
	}
	return cp
}

// checkAgainstStore checks the proof of a timestamp, in checkpoint cp, against the log stored
// in r: cp's root is the stored tree's at its size, and the inclusion path is the one the
// stored hashes give.
func checkAgainstStore(t *testing.T, st service.HashSource, ts *service.Timestamp, cp notary.Checkpoint) {
	t.Helper()
	r := service.HashReader(t.Context(), st)
	root, err := merkle.TreeHash(cp.Size, r)
	if err != nil {
		t.Fatalf("the stored tree of size %d: %v", cp.Size, err)
	}
	if root != cp.Root {
		t.Errorf("the checkpoint of size %d has root %v, the stored tree %v", cp.Size, cp.Root, root)
	}
	path, err := merkle.InclusionProof(ts.Entry.Index, cp.Size, r)
	if err != nil {
		t.Fatalf("the stored inclusion proof of %d in %d: %v", ts.Entry.Index, cp.Size, err)
	}
	if !slices.Equal(ts.Proof.Log.Inclusion, path) {
		t.Errorf("the inclusion path of entry %d in %d is\n%v\nthe stored hashes give\n%v", ts.Entry.Index, cp.Size, ts.Proof.Log.Inclusion, path)
	}
}

// checkConsistent checks, with a consistency proof from the log stored in st, that the tree
// of checkpoint old is a prefix of that of checkpoint new.
func checkConsistent(t *testing.T, st service.HashSource, old, new notary.Checkpoint) {
	t.Helper()
	proof, err := merkle.ConsistencyProof(old.Size, new.Size, service.HashReader(t.Context(), st))
	if err != nil {
		t.Fatalf("consistency proof %d→%d: %v", old.Size, new.Size, err)
	}
	if err := merkle.VerifyConsistency(old.Size, new.Size, old.Root, new.Root, proof); err != nil {
		t.Errorf("the checkpoint of size %d is not consistent with the one of size %d: %v", old.Size, new.Size, err)
	}
}

func TestServiceSubmit(t *testing.T) {
	s, db := newRunning(t)
	ctx := context.Background()

	for i, d := range []notary.Digest{testDigest(1), testDigest(2)} {
		ts, err := s.Submit(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		cp := checkSubmitted(t, s.Service, ts, d, s.Size())
		if ts.Entry.Index != int64(i) {
			t.Errorf("digest %d got index %d, want %d", i, ts.Entry.Index, i)
		}
		// Alone in its commit, the entry is proved in the checkpoint of the log it ends.
		if cp.Size != int64(i+1) {
			t.Errorf("entry %d is proved in a checkpoint of size %d, want %d", i, cp.Size, i+1)
		}
		if i == 0 && cp.Root != ts.Entry.LeafHash() {
			t.Errorf("the checkpoint of one entry has root %v, want its leaf hash %v", cp.Root, ts.Entry.LeafHash())
		}
		checkAgainstStore(t, db, ts, cp)
		if tm := ts.Entry.Time; tm.IsZero() || tm.Sub(time.Now()).Abs() > time.Minute || tm.Round(time.Millisecond) != tm {
			t.Errorf("entry time %v is not the receive time at millisecond precision", tm)
		}
		if ts.Proof.Service != serviceURL {
			t.Errorf("proof service %q, want %q", ts.Proof.Service, serviceURL)
		}
		if s.Size() != int64(i+1) {
			t.Errorf("Size() = %d after %d submissions, want %d", s.Size(), i+1, i+1)
		}
	}
}

// TestServiceSubmitRepeated submits a digest again: it keeps its first entry, with a proof in
// the latest published checkpoint if one covers it, else in one signed at the log's size.
func TestServiceSubmitRepeated(t *testing.T) {
	tests := []struct {
		name      string
		interval  time.Duration
		published bool // whether a published checkpoint covers the entry when it is submitted again
	}{
		{"covered by the latest checkpoint", 20 * time.Millisecond, true},
		{"in no published checkpoint yet", time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			db := openStore(t, filepath.Join(t.TempDir(), "notary.db"))
			cfg := testConfig(t, db)
			cfg.CheckpointInterval = tt.interval
			s := start(t, newService(t, cfg))
			d := testDigest(1)
			first, err := s.Submit(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			// Another entry after it: the log outgrows the first entry's commit.
			if _, err := s.Submit(ctx, testDigest(2)); err != nil {
				t.Fatal(err)
			}
			if tt.published {
				eventually(t, "a checkpoint of both entries", func() bool { return s.LatestCheckpoint().Size == 2 })
			} else if got := s.LatestCheckpoint().Size; got != 0 {
				t.Fatalf("test setup: the latest checkpoint has size %d, want the empty log's", got)
			}

			again, err := s.Submit(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			cp := checkSubmitted(t, s.Service, again, d, s.Size())
			if !sameEntry(again.Entry, first.Entry) {
				t.Errorf("submitting the digest again gave the entry\n%+v\nwant the first\n%+v", again.Entry, first.Entry)
			}
			if s.Size() != 2 {
				t.Errorf("Size() = %d after submitting a digest again, want 2", s.Size())
			}
			checkAgainstStore(t, db, again, cp)
			latest := s.LatestCheckpoint()
			if tt.published {
				if !bytes.Equal(cp.Note, latest.Note) {
					t.Errorf("the proof is in a checkpoint of size %d, want the latest published one, of size %d", cp.Size, latest.Size)
				}
				return
			}
			if cp.Size != 2 {
				t.Errorf("the proof is in a checkpoint of size %d, want one of the log's size, 2", cp.Size)
			}
			stored, err := db.LatestCheckpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if latest.Size != 0 || stored.Size != 0 {
				t.Errorf("the latest checkpoint has size %d (stored: %d); want the checkpoint signed for the repeated digest unpublished, 0", latest.Size, stored.Size)
			}
		})
	}
}

// submitConcurrently submits ds[i] from goroutine i, all at once, with lookups alongside, and
// returns the timestamps and the log's size as each Submit returned.
func submitConcurrently(t *testing.T, s *running, ds []notary.Digest) (stamps []*service.Timestamp, sizes []int64) {
	t.Helper()
	ctx := context.Background()
	stamps, sizes = make([]*service.Timestamp, len(ds)), make([]int64, len(ds))
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	startGun := make(chan struct{})
	for i := range ds {
		wg.Go(func() {
			<-startGun
			stamps[i], errs[i] = s.Submit(ctx, ds[i])
			sizes[i] = s.Size()
			if errs[i] == nil {
				if _, err := s.Lookup(ctx, ds[i]); err != nil {
					errs[i] = fmt.Errorf("Lookup: %w", err)
				}
			}
		})
	}
	close(startGun)
	waitGroup(t, &wg, "the submissions")
	for i, err := range errs {
		if err != nil {
			t.Fatalf("submission %d: %v", i, err)
		}
	}
	return stamps, sizes
}

// checkReceiptCheckpoints waits for a published checkpoint of every entry of s and checks,
// with consistency proofs from the log stored in r, that each checkpoint of the proofs that
// Submit returned is consistent with it.
func checkReceiptCheckpoints(t *testing.T, s *running, r service.HashSource, checkpoints map[int64]notary.Checkpoint) {
	t.Helper()
	size := s.Size()
	eventually(t, "a published checkpoint of every entry", func() bool { return s.LatestCheckpoint().Size == size })
	published := s.LatestCheckpoint()
	for _, n := range slices.Sorted(maps.Keys(checkpoints)) {
		checkConsistent(t, r, checkpoints[n], published)
	}
}

// TestServiceConcurrentSubmit submits many digests at once: they share group commits, so
// that receipts share checkpoints, each of which holds up against the stored log and the
// checkpoints published afterwards.
func TestServiceConcurrentSubmit(t *testing.T) {
	s, db := newRunning(t)
	const n = 200
	ds := digests("concurrent", n)
	stamps, sizes := submitConcurrently(t, s, ds)

	checkpoints := map[int64]notary.Checkpoint{} // by size
	var indexes []int64
	for i, ts := range stamps {
		cp := checkSubmitted(t, s.Service, ts, ds[i], sizes[i])
		checkAgainstStore(t, db, ts, cp)
		checkpoints[cp.Size] = cp
		indexes = append(indexes, ts.Entry.Index)
	}
	slices.Sort(indexes)
	for i, x := range indexes {
		if x != int64(i) {
			t.Fatalf("indexes %v are not 0 to %d, each once", indexes, n-1)
		}
	}
	if s.Size() != n {
		t.Errorf("Size() = %d, want %d", s.Size(), n)
	}
	t.Logf("%d submissions were proved in %d checkpoints", n, len(checkpoints))
	if len(checkpoints) >= n {
		t.Errorf("%d concurrent submissions were proved in %d checkpoints: no group commit served two", n, len(checkpoints))
	}
	checkReceiptCheckpoints(t, s, db, checkpoints)
}

// TestServiceConcurrentSubmitSameDigests submits each of a few digests from many goroutines
// at once: every submission of a digest gets its one entry, whether it came in the commit
// that logged it, in a later one or after, with a proof that verifies.
func TestServiceConcurrentSubmitSameDigests(t *testing.T) {
	s, db := newRunning(t)
	const distinct, copies = 10, 20
	unique := digests("same", distinct)
	ds := make([]notary.Digest, 0, distinct*copies)
	for range copies {
		ds = append(ds, unique...)
	}
	stamps, sizes := submitConcurrently(t, s, ds)

	first := map[notary.Digest]notary.Entry{}
	checkpoints := map[int64]notary.Checkpoint{}
	for i, ts := range stamps {
		cp := checkSubmitted(t, s.Service, ts, ds[i], sizes[i])
		checkAgainstStore(t, db, ts, cp)
		checkpoints[cp.Size] = cp
		if e, ok := first[ds[i]]; ok && !sameEntry(ts.Entry, e) {
			t.Errorf("submission %d of %v got the entry\n%+v\nanother got\n%+v", i, ds[i], ts.Entry, e)
		}
		first[ds[i]] = ts.Entry
	}
	if s.Size() != distinct {
		t.Errorf("Size() = %d after submitting %d digests %d times each, want %d", s.Size(), distinct, copies, distinct)
	}
	var indexes []int64
	for _, e := range first {
		indexes = append(indexes, e.Index)
	}
	slices.Sort(indexes)
	for i, x := range indexes {
		if x != int64(i) {
			t.Fatalf("indexes %v are not 0 to %d, each once", indexes, distinct-1)
		}
	}
	checkReceiptCheckpoints(t, s, db, checkpoints)
}

// TestServiceSubmitEveryEdge submits digests one after another, each alone in its commit, so
// that commits start at every log size up to 70: the proofs built from the commit's hashes
// and the log's right edge in memory are those the stored hashes give.
func TestServiceSubmitEveryEdge(t *testing.T) {
	st := &memStore{}
	s := start(t, newService(t, testConfig(t, st)))
	checkpoints := map[int64]notary.Checkpoint{}
	for i, d := range digests("edge", 70) {
		ts, err := s.Submit(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		cp := checkSubmitted(t, s.Service, ts, d, s.Size())
		if ts.Entry.Index != int64(i) || cp.Size != int64(i+1) {
			t.Fatalf("submission %d: entry %d in a checkpoint of size %d, want entry %d in %d", i, ts.Entry.Index, cp.Size, i, i+1)
		}
		checkAgainstStore(t, st, ts, cp)
		checkpoints[cp.Size] = cp
	}
	checkReceiptCheckpoints(t, s, st, checkpoints)
}

func TestServiceSubmitEntries(t *testing.T) {
	s, db := newRunning(t)
	ctx := context.Background()

	// Two digests logged before the batch.
	before, err := s.SubmitEntries(ctx, digests("before", 2))
	if err != nil {
		t.Fatal(err)
	}

	// 1000 digests: 600 distinct ones, each new one repeated at some later position, and the
	// two logged before.
	distinct := digests("batch", 600)
	batch := make([]notary.Digest, 1000)
	for k := range batch {
		batch[k] = distinct[(k*7)%600]
	}
	batch[500], batch[900] = before[1].Digest, before[0].Digest

	entries, err := s.SubmitEntries(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(batch) {
		t.Fatalf("got %d entries for %d digests", len(entries), len(batch))
	}
	first := map[notary.Digest]notary.Entry{before[0].Digest: before[0], before[1].Digest: before[1]}
	next := int64(2)
	for k, r := range entries {
		if r.Digest != batch[k] {
			t.Fatalf("entry %d is for %v, want %v", k, r.Digest, batch[k])
		}
		if prev, ok := first[r.Digest]; ok {
			if !sameEntry(r, prev) {
				t.Fatalf("entry %d of a repeated digest differs from its first:\n%+v\n%+v", k, r, prev)
			}
			continue
		}
		// A new digest takes the next index, in the order of its first appearance.
		if r.Index != next {
			t.Fatalf("entry %d: new digest has index %d, want %d", k, r.Index, next)
		}
		next++
		first[r.Digest] = r
	}
	if s.Size() != next {
		t.Errorf("Size() = %d, want %d", s.Size(), next)
	}
	if next < 500 {
		t.Fatalf("test setup: only %d distinct digests", next)
	}
	for _, r := range first {
		e, err := db.Entry(ctx, r.Index)
		if err != nil || !sameEntry(e, r) {
			t.Fatalf("stored entry %d = %+v, %v; want the returned %+v", r.Index, e, err, r)
		}
	}
}

func TestServiceLookupPending(t *testing.T) {
	s, _ := newRunning(t)
	ctx := context.Background()
	ds := digests("lookup", 11)
	entries, err := s.SubmitEntries(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a checkpoint covering the entries", func() bool { return s.LatestCheckpoint().Size >= int64(len(ds)) })

	for i, d := range ds {
		ts, err := s.Lookup(ctx, d)
		if err != nil {
			t.Fatalf("Lookup(%v): %v", d, err)
		}
		if ts.Status != service.StatusPending || ts.Anchor != nil {
			t.Errorf("status %s, anchor %v; want pending without an anchor", ts.Status, ts.Anchor)
		}
		if ts.Entry.Digest != d || !sameEntry(ts.Entry, entries[i]) {
			t.Errorf("Lookup gives entry %+v; want the submission's %+v", ts.Entry, entries[i])
		}
		if ts.Proof == nil || ts.Checkpoint == nil {
			t.Fatalf("proof %v, checkpoint %v although a checkpoint covers the entry; want both", ts.Proof, ts.Checkpoint)
		}
		if latest := s.LatestCheckpoint(); !bytes.Equal(ts.Checkpoint.Note, latest.Note) || ts.Proof.Log.Checkpoint != string(latest.Note) {
			t.Errorf("the proof is in the checkpoint\n%s\nTimestamp.Checkpoint is\n%s\nwant both the latest\n%s", ts.Proof.Log.Checkpoint, ts.Checkpoint.Note, latest.Note)
		}
		if ts.Proof.Complete() || ts.Proof.Service != serviceURL {
			t.Errorf("proof complete %v, service %q; want a pending proof naming %q", ts.Proof.Complete(), ts.Proof.Service, serviceURL)
		}
		// The proof, as a file, verifies.
		p, err := notary.ParseProof(marshal(t, ts.Proof))
		if err != nil {
			t.Fatalf("ParseProof: %v", err)
		}
		v, err := notary.Verify(p, p.OwnKey())
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if v.Digest != d || v.Index != ts.Entry.Index || v.Complete || v.Key != s.VerifierKey() ||
			v.LogSize < int64(len(ds)) || !v.Received.Equal(entries[i].Time) {
			t.Errorf("Verified = %+v, want digest %v at %d, received %v, pending", v, d, ts.Entry.Index, entries[i].Time)
		}
	}

	t.Run("unknown digest", func(t *testing.T) {
		_, err := s.Lookup(ctx, testDigest(12345))
		if !errors.Is(err, service.ErrNotFound) {
			t.Errorf("Lookup(unknown) = %v, want an error wrapping ErrNotFound", err)
		}
	})
	t.Run("index out of range", func(t *testing.T) {
		for _, i := range []int64{-1, s.Size(), 1 << 40} {
			if _, err := s.TimestampAt(ctx, i); !errors.Is(err, service.ErrNotFound) {
				t.Errorf("TimestampAt(%d) = %v, want an error wrapping ErrNotFound", i, err)
			}
		}
	})
}

func TestServiceRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "notary.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, newService(t, testConfig(t, db)))
	ds := digests("restart", 50)
	entries, err := s.SubmitEntries(ctx, ds[:30])
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds[30:] {
		ts, err := s.Submit(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, ts.Entry)
	}
	s.stop(t)
	cp := s.LatestCheckpoint()
	if cp.Size != 50 {
		t.Fatalf("the last checkpoint has size %d, want all 50 entries", cp.Size)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db2 := openStore(t, path)
	s2 := newService(t, testConfig(t, db2))
	if s2.Size() != 50 {
		t.Fatalf("after the restart Size() = %d, want 50", s2.Size())
	}
	if got := s2.LatestCheckpoint(); got.Size != cp.Size || got.Root != cp.Root || string(got.Note) != string(cp.Note) {
		t.Errorf("after the restart LatestCheckpoint() = %+v, want %+v", got, cp)
	}
	for i, d := range ds {
		ts, err := s2.Lookup(ctx, d)
		if err != nil {
			t.Fatalf("after the restart Lookup(%v): %v", d, err)
		}
		if !sameEntry(ts.Entry, entries[i]) {
			t.Fatalf("after the restart the entry of %v is\n%+v\nwant\n%+v", d, ts.Entry, entries[i])
		}
		if ts.Proof == nil {
			t.Fatalf("after the restart %v has no proof", d)
		}
		if _, err := notary.Verify(ts.Proof, ts.Proof.OwnKey()); err != nil {
			t.Fatalf("after the restart the proof of %v: %v", d, err)
		}
	}

	// The restarted service goes on from where the first stopped.
	r2 := start(t, s2)
	again, err := r2.Submit(ctx, ds[7])
	if err != nil {
		t.Fatalf("resubmitting an old digest after the restart: %v", err)
	}
	checkSubmitted(t, r2.Service, again, ds[7], r2.Size())
	if !sameEntry(again.Entry, entries[7]) {
		t.Errorf("resubmitting an old digest after the restart gave the entry %+v; want its first %+v", again.Entry, entries[7])
	}
	fresh, err := r2.Submit(ctx, testDigest(999))
	if err != nil {
		t.Fatalf("a new digest after the restart: %v", err)
	}
	if checkSubmitted(t, r2.Service, fresh, testDigest(999), r2.Size()); fresh.Entry.Index != 50 {
		t.Errorf("a new digest after the restart got index %d, want 50", fresh.Entry.Index)
	}
	eventually(t, "a checkpoint of size 51", func() bool { return r2.LatestCheckpoint().Size == 51 })
}

// appendDirect appends the entries of log from the store's size on, with their real Merkle
// hashes, bypassing any Service.
func appendDirect(tb testing.TB, db *store.DB, log *logtest.MemLog, from int64) {
	tb.Helper()
	start, end := merkle.StoredHashCount(from), merkle.StoredHashCount(int64(len(log.Entries)))
	if err := db.AppendEntries(context.Background(), log.Entries[from:], log.Hashes[start:end]); err != nil {
		tb.Fatal(err)
	}
}

// rawExec runs a statement on the SQLite file at path with the bare driver.
func rawExec(tb testing.TB, path, query string, args ...any) {
	tb.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(query, args...)
	if err != nil {
		tb.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		tb.Fatalf("%s changed %d rows (%v), want 1", query, n, err)
	}
}

// tamperedLog writes a log of size entries into a new SQLite file as a service would, with
// a checkpoint of the first size-1 entries and its digests indexed, lets tamper change the
// file, and returns the store opened again.
func tamperedLog(t *testing.T, log *logtest.MemLog, tamper func(t *testing.T, db *store.DB, path string)) (*store.DB, string) {
	t.Helper()
	ctx := context.Background()
	size := int64(len(log.Entries))
	path := filepath.Join(t.TempDir(), "notary.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// The first service signs the empty log's checkpoint; the entries and a checkpoint
	// of the first size-1 of them are then written as a service would.
	newService(t, testConfig(t, db))
	appendDirect(t, db, log, 0)
	cp, err := notary.SignCheckpoint(size-1, log.Root(t, size-1), newSigner(t, logSkey))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SaveCheckpoint(ctx, cp); err != nil {
		t.Fatal(err)
	}
	if err := db.IndexDigests(ctx, size); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openStore(t, path)
	tamper(t, db, path)
	db.Close()
	return openStore(t, path), path
}

// TestServiceRefusesTamperedHead checks that New refuses a store whose log no longer
// matches its latest signed checkpoint, rather than signing checkpoints that contradict it.
func TestServiceRefusesTamperedHead(t *testing.T) {
	const size = 13
	log := newMemLog(t, size)
	wrongRoot := log.Root(t, size-1)
	tests := []struct {
		name   string
		tamper func(t *testing.T, db *store.DB, path string)
		refuse string
	}{
		{"untouched", func(t *testing.T, db *store.DB, path string) {}, ""},
		{"checkpoint root that does not match the log", func(t *testing.T, db *store.DB, path string) {
			cp, err := notary.SignCheckpoint(size, wrongRoot, newSigner(t, logSkey))
			if err != nil {
				t.Fatal(err)
			}
			if err := db.SaveCheckpoint(context.Background(), cp); err != nil {
				t.Fatal(err)
			}
		}, "the database was altered or replaced"},
		{"a stored hash on the right edge changed", func(t *testing.T, db *store.DB, path string) {
			rawExec(t, path, "UPDATE hashes SET hash = ? WHERE id = ?", wrongRoot[:], merkle.StoredHashIndex(3, 0))
		}, "the database was altered or replaced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := tamperedLog(t, log, tt.tamper)
			s, err := service.New(context.Background(), testConfig(t, db))
			if tt.refuse == "" {
				if err != nil {
					t.Fatalf("New refused an untouched store: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New started on a tampered store; %s", brokenProofs(t, s, log))
			}
			if !strings.Contains(err.Error(), tt.refuse) {
				t.Errorf("New: %v, want it to say %q", err, tt.refuse)
			}
		})
	}
}

// TestAuditFindsDamage checks that Audit names the damaged entry and what changed in it,
// where New, which reads only the head of the log, cannot see it.
func TestAuditFindsDamage(t *testing.T) {
	const size = 13
	log := newMemLog(t, size)
	other := testDigest(1000)
	tests := []struct {
		name   string
		tamper func(t *testing.T, db *store.DB, path string)
		entry  int64
		what   string
	}{
		{"untouched", func(t *testing.T, db *store.DB, path string) {}, -1, ""},
		{"entry digest changed", func(t *testing.T, db *store.DB, path string) {
			rawExec(t, path, "UPDATE entries SET digest = ? WHERE id = 3", other[:])
		}, 3, "digest"},
		{"entry time changed", func(t *testing.T, db *store.DB, path string) {
			rawExec(t, path, "UPDATE entries SET time_ms = time_ms - 86400000 WHERE id = 3")
		}, 3, "time or nonce"},
		{"entry nonce changed", func(t *testing.T, db *store.DB, path string) {
			rawExec(t, path, "UPDATE entries SET nonce = ? WHERE id = 5", other[:16])
		}, 5, "time or nonce"},
		{"leaf hash changed", func(t *testing.T, db *store.DB, path string) {
			rawExec(t, path, "UPDATE hashes SET hash = ? WHERE id = ?", other[:], merkle.StoredHashIndex(0, 3))
		}, 3, "leaf hash"},
		{"inner hash changed", func(t *testing.T, db *store.DB, path string) {
			rawExec(t, path, "UPDATE hashes SET hash = ? WHERE id = ?", other[:], merkle.StoredHashIndex(1, 2))
		}, 5, "hash"},
		{"entry after the checkpoint changed", func(t *testing.T, db *store.DB, path string) {
			rawExec(t, path, "UPDATE entries SET digest = ? WHERE id = 12", other[:])
		}, 12, "leaf hash"},
		{"digest index lacks an entry", func(t *testing.T, db *store.DB, path string) {
			// Index the log again while entry 7 holds another digest, then put its own back.
			db.Close()
			if err := os.RemoveAll(path + "-digests"); err != nil {
				t.Fatal(err)
			}
			rawExec(t, path, "UPDATE entries SET digest = ? WHERE id = 7", other[:])
			reindexed := openStore(t, path)
			if err := reindexed.IndexDigests(context.Background(), size); err != nil {
				t.Fatal(err)
			}
			reindexed.Close()
			rawExec(t, path, "UPDATE entries SET digest = ? WHERE id = 7", log.Entries[7].Digest[:])
		}, 7, "digest index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := tamperedLog(t, log, tt.tamper)
			rep, err := service.Audit(context.Background(), db, logVkey, nil)
			if tt.what == "" {
				if err != nil {
					t.Fatalf("Audit of an untouched log: %v", err)
				}
				if rep.Size != size || rep.Checkpoint.Size != size-1 || rep.Indexed != size {
					t.Errorf("Audit = %+v, want %d entries, a checkpoint of %d, all indexed", rep, size, size-1)
				}
				return
			}
			var damage *service.DamageError
			if !errors.As(err, &damage) {
				t.Fatalf("Audit = %v, want a *DamageError", err)
			}
			if damage.Entry != tt.entry || damage.What != tt.what {
				t.Errorf("Audit found entry %d, %q damaged (%v), want entry %d, %q", damage.Entry, damage.What, err, tt.entry, tt.what)
			}
		})
	}
}

// brokenProofs says which of the proofs s serves fail to verify, and which entries it
// serves state what log never held.
func brokenProofs(t *testing.T, s *service.Service, log *logtest.MemLog) string {
	var broken, unlogged []int64
	for i := range s.Size() {
		ts, err := s.TimestampAt(context.Background(), i)
		if err != nil {
			t.Fatalf("TimestampAt(%d): %v", i, err)
		}
		if got, e := ts.Entry, log.Entries[i]; got.Digest != e.Digest || !got.Time.Equal(e.Time) {
			unlogged = append(unlogged, i)
		}
		if ts.Proof == nil {
			continue
		}
		if _, err := notary.Verify(ts.Proof, ts.Proof.OwnKey()); err != nil {
			broken = append(broken, i)
		}
	}
	return fmt.Sprintf("the proofs it serves for entries %v fail to verify, and the entries %v it serves "+
		"state a digest or time the log never held", broken, unlogged)
}

// TestServiceShutdown submits from many goroutines while Run's context is cancelled: every
// submission acknowledged is in the store and in the last checkpoint, and submissions after
// Run returned get ErrClosed.
func TestServiceShutdown(t *testing.T) {
	ctx := context.Background()
	s, db := newRunning(t)
	// The submitters' context is cancelled only to free any left waiting (see
	// TestServiceShutdownAnswersEverySubmission).
	subCtx, cancelSubs := context.WithCancel(ctx)
	defer cancelSubs()
	const workers = 16
	var (
		mu    sync.Mutex
		acked []notary.Entry
		wg    sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				ts, err := s.Submit(subCtx, sha256.Sum256(fmt.Appendf(nil, "shutdown %d %d", w, i)))
				if errors.Is(err, service.ErrClosed) {
					return
				}
				if errors.Is(err, context.Canceled) {
					t.Error("a submission made during shutdown was never answered (see TestServiceShutdownAnswersEverySubmission)")
					return
				}
				if err != nil {
					t.Errorf("Submit: %v", err)
					return
				}
				mu.Lock()
				acked = append(acked, ts.Entry)
				mu.Unlock()
			}
		})
	}
	eventually(t, "200 submissions", func() bool { return s.Size() >= 200 })
	s.stop(t)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cancelSubs()
		<-done
	}

	if _, err := s.Submit(ctx, testDigest(4242)); !errors.Is(err, service.ErrClosed) {
		t.Errorf("Submit after Run returned = %v, want ErrClosed", err)
	}
	if _, err := s.SubmitEntries(ctx, digests("after", 3)); !errors.Is(err, service.ErrClosed) {
		t.Errorf("SubmitEntries after Run returned = %v, want ErrClosed", err)
	}
	size, err := db.LogSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if size != s.Size() || int64(len(acked)) > size {
		t.Errorf("the store holds %d entries, the service says %d, %d were acknowledged", size, s.Size(), len(acked))
	}
	for _, r := range acked {
		e, err := db.Entry(ctx, r.Index)
		if err != nil || !sameEntry(e, r) {
			t.Fatalf("acknowledged entry %d (%v) is not in the store: %+v, %v", r.Index, r.Digest, e, err)
		}
	}
	latest, err := db.LatestCheckpoint(ctx)
	if err != nil || latest.Size != size {
		t.Errorf("the last stored checkpoint has size %d (%v), want every entry: %d", latest.Size, err, size)
	}
}

// TestServiceShutdownAnswersEverySubmission checks that a submission racing with shutdown is
// answered, with a timestamp or ErrClosed, rather than left waiting for a sequencer that has
// stopped. The window is narrow: the test shuts down service after service (on an in-memory
// store, to make rounds fast) for a few seconds.
func TestServiceShutdownAnswersEverySubmission(t *testing.T) {
	budget := 4 * time.Second
	if testing.Short() {
		budget = time.Second
	}
	// More Ps than CPUs: the operating system then preempts submitters at any instruction,
	// which widens the window.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4 * runtime.NumCPU()))
	const workers = 16
	deadline := time.Now().Add(budget)
	for round := 0; time.Now().Before(deadline); round++ {
		st := &memStore{}
		s := start(t, newService(t, testConfig(t, st)))
		// The submitters' context is cancelled only to free those left waiting.
		subCtx, cancelSubs := context.WithCancel(context.Background())
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			stranded int
			acked    []notary.Entry
		)
		for w := range workers {
			wg.Go(func() {
				for i := 0; ; i++ {
					ts, err := s.Submit(subCtx, sha256.Sum256(fmt.Appendf(nil, "race %d %d %d", round, w, i)))
					mu.Lock()
					switch {
					case err == nil:
						acked = append(acked, ts.Entry)
					case errors.Is(err, context.Canceled):
						stranded++
					case !errors.Is(err, service.ErrClosed):
						t.Errorf("Submit: %v", err)
					}
					mu.Unlock()
					if err != nil {
						return
					}
				}
			})
		}
		eventually(t, "some submissions", func() bool { return s.Size() >= 10 })
		s.stop(t)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Second):
			cancelSubs()
			<-done
		}
		cancelSubs()
		if stranded > 0 {
			t.Fatalf("round %d: %d submission(s) made while Run shut down were neither logged nor refused "+
				"with ErrClosed: they waited until their own context was cancelled", round, stranded)
		}
		for _, r := range acked {
			if e, err := st.Entry(context.Background(), r.Index); err != nil || e.Digest != r.Digest {
				t.Fatalf("round %d: acknowledged entry %d is not in the store: %v", round, r.Index, err)
			}
		}
	}
}

// TestServiceStoreFailure checks that a failed durable write is reported to the submitters
// and logs nothing: the next submissions take the same indexes once the store works again.
func TestServiceStoreFailure(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	s := start(t, newService(t, testConfig(t, st)))
	if _, err := s.Submit(ctx, testDigest(0)); err != nil {
		t.Fatal(err)
	}
	broken := errors.New("disk full")
	st.mu.Lock()
	st.failAppend = broken
	st.mu.Unlock()
	if _, err := s.SubmitEntries(ctx, digests("failing", 3)); !errors.Is(err, broken) {
		t.Fatalf("SubmitEntries on a failing store = %v, want an error wrapping %v", err, broken)
	}
	if ts, err := s.Submit(ctx, testDigest(1)); ts != nil || !errors.Is(err, broken) {
		t.Fatalf("Submit on a failing store = %+v, %v; want no timestamp and an error wrapping %v", ts, err, broken)
	}
	if s.Size() != 1 {
		t.Errorf("Size() = %d after a failed write, want 1", s.Size())
	}
	if _, err := s.Lookup(ctx, digests("failing", 3)[1]); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("Lookup of a digest whose write failed = %v, want ErrNotFound", err)
	}
	st.mu.Lock()
	st.failAppend = nil
	st.mu.Unlock()
	rs, err := s.SubmitEntries(ctx, digests("failing", 3))
	if err != nil {
		t.Fatal(err)
	}
	for k, r := range rs {
		if r.Index != int64(1+k) {
			t.Errorf("after recovery entry %d has index %d, want %d", k, r.Index, 1+k)
		}
	}
	// The digest whose commit failed was not logged: submitted again, it gets a new entry,
	// proved in the checkpoint of the commit that logs it.
	ts, err := s.Submit(ctx, testDigest(1))
	if err != nil {
		t.Fatal(err)
	}
	cp := checkSubmitted(t, s.Service, ts, testDigest(1), s.Size())
	if ts.Entry.Index != 4 || cp.Size != 5 {
		t.Errorf("after recovery the digest got entry %d in a checkpoint of size %d, want entry 4 in 5", ts.Entry.Index, cp.Size)
	}
	checkAgainstStore(t, st, ts, cp)
	checkStoredTree(t, st)
	eventually(t, "a checkpoint of size 5", func() bool { return s.LatestCheckpoint().Size == 5 })
	checkConsistent(t, st, cp, s.LatestCheckpoint())
}

// failingSigner is a note.Signer that fails while fail is set.
type failingSigner struct {
	note.Signer
	fail atomic.Bool
}

func (f *failingSigner) Sign(msg []byte) ([]byte, error) {
	if f.fail.Load() {
		return nil, errors.New("the signing key is unavailable")
	}
	return f.Signer.Sign(msg)
}

// TestServiceSigningFailure: when the commit's checkpoint cannot be signed, the entry is
// durable but not acknowledged; submitted again, the digest gets that same entry, signed.
func TestServiceSigningFailure(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	cfg := testConfig(t, st)
	signer := &failingSigner{Signer: cfg.Signer}
	cfg.Signer = signer
	s := start(t, newService(t, cfg))

	signer.fail.Store(true)
	d := testDigest(7)
	if ts, err := s.Submit(ctx, d); ts != nil || err == nil || !strings.Contains(err.Error(), "submit them again") {
		t.Fatalf("Submit while signing fails = %+v, %v; want no timestamp and an error that says to submit again", ts, err)
	}
	if s.Size() != 1 {
		t.Fatalf("Size() = %d, want the entry logged", s.Size())
	}
	signer.fail.Store(false)
	ts, err := s.Submit(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	cp := checkSubmitted(t, s.Service, ts, d, s.Size())
	if ts.Entry.Index != 0 {
		t.Errorf("submitted again, the digest has entry %d, want its first, 0", ts.Entry.Index)
	}
	checkAgainstStore(t, st, ts, cp)
}

// TestServiceStoredHashes submits enough digests, in batches of many sizes, for the
// sequencer's hash cache to be cleared, and checks every stored hash against
// a tree recomputed from the stored entries.
func TestServiceStoredHashes(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	cfg := testConfig(t, st)
	cfg.MaxBatch = 1000
	s := start(t, newService(t, cfg))
	// Each entry caches about two hashes: the cache, cleared past 65 536, is cleared once.
	const perWorker = 9_000
	ds := digests("hashes", 4*perWorker)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for k, n := w*perWorker, 1; k < (w+1)*perWorker; n = n*3 + 1 {
				end := min(k+n, (w+1)*perWorker)
				if _, err := s.SubmitEntries(ctx, ds[k:end]); err != nil {
					t.Error(err)
					return
				}
				k = end
			}
		})
	}
	waitGroup(t, &wg, "the submissions")
	if s.Size() != int64(len(ds)) {
		t.Fatalf("Size() = %d, want %d", s.Size(), len(ds))
	}
	checkStoredTree(t, st)
	eventually(t, "a checkpoint of every entry", func() bool { return s.LatestCheckpoint().Size == int64(len(ds)) })
	cp := s.LatestCheckpoint()
	log := &logtest.MemLog{}
	st.mu.Lock()
	entries := slices.Clone(st.entries)
	st.mu.Unlock()
	for _, e := range entries {
		log.Append(t, e)
	}
	if root := log.Root(t, cp.Size); root != cp.Root {
		t.Errorf("checkpoint root %v, want the root of the stored entries %v", cp.Root, root)
	}
}

// checkStoredTree recomputes the stored hashes of st from its entries and compares them.
func checkStoredTree(t *testing.T, st *memStore) {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	log := &logtest.MemLog{}
	for _, e := range st.entries {
		log.Append(t, e)
	}
	if len(log.Hashes) != len(st.hashes) {
		t.Fatalf("the store holds %d hashes for %d entries, want %d", len(st.hashes), len(st.entries), len(log.Hashes))
	}
	for i := range log.Hashes {
		if log.Hashes[i] != st.hashes[i] {
			t.Fatalf("stored hash %d is %v, want %v", i, st.hashes[i], log.Hashes[i])
		}
	}
}

// waitGroup waits for wg, failing the test after 20 s.
func waitGroup(tb testing.TB, wg *sync.WaitGroup, what string) {
	tb.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		tb.Fatalf("timed out waiting for %s", what)
	}
}
