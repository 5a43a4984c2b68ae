// Package storetest is the contract test suite of service.Store: every store (SQLite,
// PostgreSQL) runs it, so that the service sees one behaviour whatever holds the log.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// Stores is what the suite needs to know of a store.
type Stores struct {
	// Open returns a new, empty store, closed when the test ends.
	Open func(t *testing.T) service.Store
	// Reopen, if not nil, opens another handle on the store Open returned last, as a
	// second process would: the tests of two writers need one.
	Reopen func(t *testing.T) service.Store
	// ErrorPrefix begins the errors of the store ("store: "): they say whose they are.
	ErrorPrefix string
}

// Run runs the contract tests, each on a new, empty store from stores.Open.
func Run(t *testing.T, stores Stores) {
	tests := []struct {
		name string
		test func(t *testing.T, st service.Store, prefix string)
	}{
		{"Empty", testEmpty},
		{"AppendAndRead", testAppendAndRead},
		{"AppendOutOfSequence", testAppendOutOfSequence},
		{"ReadHashes", testReadHashes},
		{"ReadHashesContext", testReadHashesContext},
		{"ScanEntries", testScanEntries},
		{"DigestIndex", testDigestIndex},
		{"DigestIndexSharedPrefix", testDigestIndexSharedPrefix},
		{"EntryTimePrecision", testEntryTimePrecision},
		{"Checkpoints", testCheckpoints},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, stores.Open(t), stores.ErrorPrefix) })
	}
	if stores.Reopen != nil {
		t.Run("Fencing", func(t *testing.T) { testFencing(t, stores.Open(t), stores.Reopen(t)) })
		t.Run("CheckpointsAtOnce", func(t *testing.T) { testCheckpointsAtOnce(t, stores.Open(t), stores.Reopen(t)) })
	}
}

// testFencing: of two handles on one log, the one that led last writes; the other's
// appends and checkpoints fail with ErrFenced and write nothing, even at the right size.
func testFencing(t *testing.T, a, b service.Store) {
	ctx := context.Background()
	log := logtest.NewMemLog(t, 30)
	signer := logtest.Signer(t, logtest.LogSkey)
	ea, err := a.Lead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, a, log, 0, 10)
	eb, err := b.Lead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if eb <= ea {
		t.Fatalf("the second Lead has epoch %d, the first %d: want it greater", eb, ea)
	}
	if err := appendLog(t, a, log, 10, 20); !errors.Is(err, service.ErrFenced) {
		t.Fatalf("append by the deposed writer at the right size: %v, want ErrFenced", err)
	}
	cp, err := notary.SignCheckpoint(10, log.Root(t, 10), signer)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SaveCheckpoint(ctx, cp); !errors.Is(err, service.ErrFenced) {
		t.Errorf("checkpoint by the deposed writer: %v, want ErrFenced", err)
	}
	if n := logSize(t, b); n != 10 {
		t.Fatalf("LogSize = %d after the deposed writer's append, want 10", n)
	}
	mustAppend(t, b, log, 10, 30)
	if err := b.SaveCheckpoint(ctx, cp); err != nil {
		t.Errorf("checkpoint by the writer: %v", err)
	}
	if root, err := merkle.TreeHash(30, service.HashReader(ctx, b)); err != nil || root != log.Root(t, 30) {
		t.Errorf("root after the writer's appends = %v, %v", root, err)
	}
}

// appendLog appends the entries [from, to) of log to st, in one call.
func appendLog(t *testing.T, st service.Store, log *logtest.MemLog, from, to int64) error {
	t.Helper()
	hs := log.Hashes[merkle.StoredHashCount(from):merkle.StoredHashCount(to)]
	return st.AppendEntries(context.Background(), log.Entries[from:to], hs)
}

func mustAppend(t *testing.T, st service.Store, log *logtest.MemLog, from, to int64) {
	t.Helper()
	if err := appendLog(t, st, log, from, to); err != nil {
		t.Fatalf("AppendEntries [%d, %d): %v", from, to, err)
	}
}

func logSize(t *testing.T, st service.Store) int64 {
	t.Helper()
	n, err := st.LogSize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testEmpty(t *testing.T, st service.Store, _ string) {
	ctx := context.Background()
	if n := logSize(t, st); n != 0 {
		t.Errorf("LogSize = %d", n)
	}
	if n, err := st.IndexedSize(ctx); err != nil || n != 0 {
		t.Errorf("IndexedSize = %d, %v", n, err)
	}
	if _, err := st.LatestCheckpoint(ctx); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("LatestCheckpoint: %v, want ErrNotFound", err)
	}
	if _, err := st.Entry(ctx, 0); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("Entry(0): %v, want ErrNotFound", err)
	}
	if _, err := st.ReadHashes(ctx, []int64{0}); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("ReadHashes([0]): %v, want ErrNotFound", err)
	}
	if hs, err := st.ReadHashes(ctx, nil); err != nil || len(hs) != 0 {
		t.Errorf("ReadHashes(nil) = %v, %v", hs, err)
	}
	if err := st.ScanEntries(ctx, 0, func(notary.Entry) error { return errors.New("called") }); err != nil {
		t.Errorf("ScanEntries of the empty log: %v", err)
	}
}

func testAppendAndRead(t *testing.T, st service.Store, _ string) {
	ctx := context.Background()
	log := logtest.NewMemLog(t, 300)
	for _, span := range [][2]int64{{0, 1}, {1, 2}, {2, 37}, {37, 300}} {
		mustAppend(t, st, log, span[0], span[1])
		if n := logSize(t, st); n != span[1] {
			t.Fatalf("LogSize = %d after appending up to %d", n, span[1])
		}
	}
	for _, i := range []int64{0, 1, 36, 37, 150, 299} {
		e, err := st.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if want := log.Entries[i]; e.Index != i || e.Digest != want.Digest || !e.Time.Equal(want.Time) || e.Nonce != want.Nonce {
			t.Errorf("Entry(%d) = %+v, want %+v", i, e, want)
		}
	}
	for _, i := range []int64{300, -1, 1 << 50} {
		if _, err := st.Entry(ctx, i); !errors.Is(err, service.ErrNotFound) {
			t.Errorf("Entry(%d): %v, want ErrNotFound", i, err)
		}
	}
	all := make([]int64, len(log.Hashes))
	for k := range all {
		all[k] = int64(len(all) - 1 - k) // in reverse: the order asked is the order given
	}
	hs, err := st.ReadHashes(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	for k, x := range all {
		if hs[k] != log.Hashes[x] {
			t.Fatalf("stored hash %d = %v, want %v", x, hs[k], log.Hashes[x])
		}
	}
	if _, err := st.ReadHashes(ctx, []int64{5, int64(len(log.Hashes))}); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("ReadHashes past the end: %v, want ErrNotFound", err)
	}
	if root, err := merkle.TreeHash(300, service.HashReader(ctx, st)); err != nil || root != log.Root(t, 300) {
		t.Errorf("TreeHash over the store = %v, %v; want %v", root, err, log.Root(t, 300))
	}
}

// testReadHashes: the hashes at any storage indexes, in the order asked, across appends;
// a missing one is ErrNotFound, named in the error; merkle reads trees and proofs
// through the store as through the log in memory.
func testReadHashes(t *testing.T, st service.Store, prefix string) {
	ctx := context.Background()
	log := logtest.NewMemLog(t, 1037)
	mustAppend(t, st, log, 0, 1000)
	mustAppend(t, st, log, 1000, 1037)
	n := int64(len(log.Hashes))
	all := make([]int64, n)
	for k := range all {
		all[k] = int64(k)
	}
	for _, c := range []struct {
		name    string
		indexes []int64
	}{
		{"none", []int64{}},
		{"first", []int64{0}},
		{"last", []int64{n - 1}},
		{"ascending", []int64{1, 2, 3, 500, 1000}},
		{"descending", []int64{n - 1, 1000, 17, 0}},
		{"unsorted", []int64{400, 3, 999, 2, n - 1}},
		{"duplicates", []int64{5, 5, 9, 5}},
		{"all", all},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := st.ReadHashes(ctx, c.indexes)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := log.ReadHashes(c.indexes)
			if !slices.Equal(got, want) {
				t.Fatalf("ReadHashes(%v) = %v, want %v", c.indexes, got, want)
			}
		})
	}

	for _, c := range []struct {
		name    string
		indexes []int64
		missing int64
	}{
		{"past the end", []int64{0, n, 1}, n},
		{"negative", []int64{3, -1}, -1},
		{"far", []int64{1 << 40}, 1 << 40},
		{"first of several", []int64{2, n + 5, -7}, n + 5},
	} {
		t.Run("missing/"+c.name, func(t *testing.T) {
			_, err := st.ReadHashes(ctx, c.indexes)
			if !errors.Is(err, service.ErrNotFound) {
				t.Fatalf("ReadHashes(%v): %v, want ErrNotFound", c.indexes, err)
			}
			if want := fmt.Sprintf("%shash %d:", prefix, c.missing); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start %q", err, want)
			}
		})
	}

	t.Run("tree hashes", func(t *testing.T) {
		r := service.HashReader(ctx, st)
		for _, size := range []int64{1, 2, 3, 511, 512, 1000, 1037} {
			root, err := merkle.TreeHash(size, r)
			if err != nil {
				t.Fatal(err)
			}
			if want := log.Root(t, size); root != want {
				t.Errorf("TreeHash(%d) from the store = %v, want %v", size, root, want)
			}
			proof, err := merkle.InclusionProof(size/2, size, r)
			if err != nil {
				t.Fatal(err)
			}
			if err := merkle.VerifyInclusion(size/2, size, log.Entries[size/2].LeafHash(), log.Root(t, size), proof); err != nil {
				t.Errorf("inclusion proof of %d in %d from the store: %v", size/2, size, err)
			}
		}
	})
}

// testReadHashesContext: a hash read whose context is cancelled, or past its deadline,
// returns the context's error and no hashes; the store reads on for other contexts.
func testReadHashesContext(t *testing.T, st service.Store, _ string) {
	log := logtest.NewMemLog(t, 20)
	mustAppend(t, st, log, 0, 20)
	indexes := []int64{0, 5, merkle.StoredHashCount(20) - 1}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"past its deadline", expired, context.DeadlineExceeded},
	} {
		if hs, err := st.ReadHashes(c.ctx, indexes); !errors.Is(err, c.want) || hs != nil {
			t.Errorf("ReadHashes with a context %s = %d hashes, %v; want the error %v", c.name, len(hs), err, c.want)
		}
		if _, err := merkle.InclusionProof(3, 20, service.HashReader(c.ctx, st)); !errors.Is(err, c.want) {
			t.Errorf("an inclusion proof read with a context %s: %v, want the error %v", c.name, err, c.want)
		}
	}
	hs, err := st.ReadHashes(context.Background(), indexes)
	if err != nil {
		t.Fatalf("ReadHashes after the cancelled reads: %v", err)
	}
	for k, x := range indexes {
		if hs[k] != log.Hashes[x] {
			t.Errorf("stored hash %d = %v, want %v", x, hs[k], log.Hashes[x])
		}
	}
}

func testAppendOutOfSequence(t *testing.T, st service.Store, _ string) {
	ctx := context.Background()
	const size = 10
	log := logtest.NewMemLog(t, size+4)
	mustAppend(t, st, log, 0, size)
	if err := st.AppendEntries(ctx, nil, nil); err != nil {
		t.Fatalf("an empty append: %v", err)
	}
	// Each bad batch is built from the next valid one; none may write anything.
	good := log.Entries[size:]
	goodHashes := log.Hashes[merkle.StoredHashCount(size):]
	shifted := func(delta int64) []notary.Entry {
		es := slices.Clone(good)
		for k := range es {
			es[k].Index += delta
		}
		return es
	}
	for _, c := range []struct {
		name    string
		entries []notary.Entry
		hashes  []merkle.Hash
	}{
		{"gap", shifted(1), goodHashes},
		{"overlap", shifted(-1), goodHashes},
		{"rewrite from zero", shifted(-size), goodHashes},
		{"negative index", shifted(-size - 1), goodHashes},
		{"huge index", shifted(1 << 62), goodHashes},
		{"not consecutive", []notary.Entry{good[0], good[2]}, goodHashes},
		{"repeated index", []notary.Entry{good[0], good[0]}, goodHashes},
		{"too few hashes", good, goodHashes[:len(goodHashes)-1]},
		{"too many hashes", good, append(slices.Clone(goodHashes), merkle.Hash{})},
		{"no hashes", good, nil},
		{"hashes without entries", nil, goodHashes},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := st.AppendEntries(ctx, c.entries, c.hashes); !errors.Is(err, service.ErrOutOfSequence) {
				t.Fatalf("AppendEntries: %v, want ErrOutOfSequence", err)
			}
			if n := logSize(t, st); n != size {
				t.Fatalf("LogSize = %d after a refused append, want %d", n, size)
			}
			if _, err := st.ReadHashes(ctx, []int64{merkle.StoredHashCount(size)}); !errors.Is(err, service.ErrNotFound) {
				t.Fatalf("a hash was written by a refused append: %v", err)
			}
		})
	}
	mustAppend(t, st, log, size, size+4)
}

// testScanEntries: a scan gives the entries from any index on, in order, across appends,
// as of one snapshot; the callback may read the store; the scan stops at the callback's
// first error, and at once when its context is done.
func testScanEntries(t *testing.T, st service.Store, _ string) {
	ctx := context.Background()
	const size = 2500
	log := logtest.NewMemLog(t, size+1500)
	for _, span := range [][2]int64{{0, 1000}, {1000, 2000}, {2000, size}} {
		mustAppend(t, st, log, span[0], span[1])
	}
	// scan scans from from on, checking each entry against the log, and returns how many
	// entries fn was called with.
	scan := func(t *testing.T, ctx context.Context, from int64, fn func(notary.Entry) error) (int64, error) {
		t.Helper()
		next := max(from, 0)
		err := st.ScanEntries(ctx, from, func(e notary.Entry) error {
			if next >= int64(len(log.Entries)) {
				return fmt.Errorf("scanned %+v beyond the %d entries appended", e, len(log.Entries))
			}
			if want := log.Entries[next]; e.Index != next || !bytes.Equal(e.Bytes(), want.Bytes()) || e.Time.Location() != time.UTC {
				return fmt.Errorf("scanned %+v, want %+v", e, want)
			}
			next++
			return fn(e)
		})
		return next - max(from, 0), err
	}
	nothing := func(notary.Entry) error { return nil }

	for _, from := range []int64{-5, 0, 1, 999, 1000, 1001, 2499, 2500, 9000} {
		t.Run(fmt.Sprintf("from %d", from), func(t *testing.T) {
			n, err := scan(t, ctx, from, nothing)
			if want := size - min(max(from, 0), size); err != nil || n != want {
				t.Fatalf("ScanEntries from %d: %v after %d entries, want %d", from, err, n, want)
			}
		})
	}

	t.Run("stops at error", func(t *testing.T) {
		stop := errors.New("stop")
		n, err := scan(t, ctx, 0, func(e notary.Entry) error {
			if e.Index == 9 {
				return stop
			}
			return nil
		})
		if err != stop || n != 10 {
			t.Fatalf("ScanEntries = %v after %d calls, want the callback's error itself after 10", err, n)
		}
	})

	t.Run("reads during scan", func(t *testing.T) {
		// The callback may use the store: the scan does not hold all of it.
		_, err := scan(t, ctx, 0, func(e notary.Entry) error {
			if e.Index%500 != 0 {
				return nil
			}
			got, err := st.Entry(ctx, e.Index)
			if err != nil || got.Index != e.Index || !bytes.Equal(got.Bytes(), e.Bytes()) {
				return fmt.Errorf("Entry(%d) during scan = %+v, %v", e.Index, got, err)
			}
			if _, err := st.ReadHashes(ctx, []int64{merkle.StoredHashCount(e.Index)}); err != nil {
				return fmt.Errorf("ReadHashes during scan: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		n, err := scan(t, ctx, 0, func(e notary.Entry) error {
			if e.Index == 4 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || n != 5 {
			t.Fatalf("ScanEntries canceled in the 5th call: %v after %d calls, want context.Canceled after 5", err, n)
		}
	})

	t.Run("one snapshot", func(t *testing.T) {
		// Entries appended while the scan runs are not seen.
		n, err := scan(t, ctx, 0, func(e notary.Entry) error {
			if e.Index == 0 {
				return appendLog(t, st, log, size, size+1500)
			}
			return nil
		})
		if err != nil || n != size {
			t.Fatalf("ScanEntries: %v after %d calls, want %d", err, n, size)
		}
		if got := logSize(t, st); got != size+1500 {
			t.Fatalf("LogSize = %d after the append during the scan, want %d", got, size+1500)
		}
	})
}

func testDigestIndex(t *testing.T, st service.Store, _ string) {
	ctx := context.Background()
	log := logtest.NewMemLog(t, 100)
	mustAppend(t, st, log, 0, 100)
	lookup := func(ds ...notary.Digest) []int64 {
		t.Helper()
		out := make([]int64, len(ds))
		if err := st.LookupDigests(ctx, ds, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := lookup(log.Entries[0].Digest); got[0] != -1 {
		t.Errorf("a digest not indexed yet was found at %d", got[0])
	}
	for _, through := range []int64{1, 40, 40, 100} {
		if err := st.IndexDigests(ctx, through); err != nil {
			t.Fatalf("IndexDigests(%d): %v", through, err)
		}
		if n, err := st.IndexedSize(ctx); err != nil || n != through {
			t.Fatalf("IndexedSize = %d, %v; want %d", n, err, through)
		}
	}
	unknown := logtest.Digest(1000)
	got := lookup(log.Entries[0].Digest, unknown, log.Entries[99].Digest, log.Entries[57].Digest, unknown)
	if want := []int64{0, -1, 99, 57, -1}; !equal(got, want) {
		t.Errorf("LookupDigests = %v, want %v", got, want)
	}
	if got := lookup(); len(got) != 0 {
		t.Errorf("LookupDigests of nothing = %v", got)
	}
	many := make([]notary.Digest, 3000)
	for k := range many {
		many[k] = logtest.Digest(int64(k % 200)) // half logged, half not
	}
	for k, i := range lookup(many...) {
		if want := int64(k % 200); (want < 100 && i != want) || (want >= 100 && i != -1) {
			t.Fatalf("LookupDigests of 3000 digests: %d at %d, want %d (or -1 past 99)", i, k, want)
		}
	}
	if err := st.IndexDigests(ctx, 101); err == nil {
		t.Error("IndexDigests beyond the log: no error")
	}
	if err := st.IndexDigests(ctx, 50); err == nil {
		t.Error("IndexDigests back to 50 from 100: no error")
	}
}

// testDigestIndexSharedPrefix: digests that agree in every byte but the last are distinct
// in the index, whichever was logged first (a store may key its index by a
// prefix of the digest, as long as it confirms a match).
func testDigestIndexSharedPrefix(t *testing.T, st service.Store, _ string) {
	ctx := context.Background()
	twin := func(d notary.Digest, last byte) notary.Digest { d[31] = last; return d }
	base := logtest.Digest(7)
	a, b, c := twin(base, 1), twin(base, 2), twin(base, 3)
	log := logtest.NewMemLog(t, 0)
	for _, d := range []notary.Digest{logtest.Digest(0), b, logtest.Digest(2), a} {
		e := logtest.Entry(int64(len(log.Entries)))
		e.Digest = d
		log.Append(t, e)
	}
	if err := appendLog(t, st, log, 0, int64(len(log.Entries))); err != nil {
		t.Fatal(err)
	}
	if err := st.IndexDigests(ctx, int64(len(log.Entries))); err != nil {
		t.Fatal(err)
	}
	got := make([]int64, 4)
	if err := st.LookupDigests(ctx, []notary.Digest{a, b, c, twin(base, 1)}, got); err != nil {
		t.Fatal(err)
	}
	if want := []int64{3, 1, -1, 3}; !equal(got, want) {
		t.Errorf("LookupDigests of digests that differ only in their last byte = %v, want %v", got, want)
	}
}

// testEntryTimePrecision: sub-millisecond time is not part of an entry: it is dropped, not
// rounded, and an entry reads back in UTC with the same canonical bytes.
func testEntryTimePrecision(t *testing.T, st service.Store, _ string) {
	e := logtest.Entry(0)
	e.Time = time.Date(2024, 2, 29, 23, 59, 59, 999_999_999, time.FixedZone("x", 3600))
	log := logtest.NewMemLog(t, 0)
	log.Append(t, e)
	mustAppend(t, st, log, 0, 1)
	got, err := st.Entry(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Time.UnixMilli() != e.Time.UnixMilli() || got.Time.Location() != time.UTC {
		t.Fatalf("time %v, want %v in UTC", got.Time, e.Time.Truncate(time.Millisecond))
	}
	if !bytes.Equal(got.Bytes(), e.Bytes()) {
		t.Fatal("canonical bytes differ")
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

// testCheckpoints: checkpoints are kept by size, the latest is the greatest, and a save
// that would change a stored one, go back, or go beyond the log is refused and changes
// nothing.
func testCheckpoints(t *testing.T, st service.Store, prefix string) {
	ctx := context.Background()
	log := logtest.NewMemLog(t, 100)
	sign := checkpointSigner(t)
	empty := sign(0, log.Root(t, 0))
	if err := st.SaveCheckpoint(ctx, empty); err != nil {
		t.Fatalf("checkpoint of the empty log: %v", err)
	}
	mustAppend(t, st, log, 0, 100)
	c10, c50, c100 := sign(10, log.Root(t, 10)), sign(50, log.Root(t, 50)), sign(100, log.Root(t, 100))
	for _, cp := range []notary.Checkpoint{c10, c10, c50} {
		if err := st.SaveCheckpoint(ctx, cp); err != nil {
			t.Fatalf("SaveCheckpoint(%d): %v", cp.Size, err)
		}
	}

	t.Run("by size", func(t *testing.T) {
		for _, want := range []notary.Checkpoint{empty, c10, c50} {
			if got, err := st.Checkpoint(ctx, want.Size); err != nil || !equalCheckpoints(got, want) {
				t.Errorf("Checkpoint(%d) = %+v, %v; want %+v", want.Size, got, err, want)
			}
		}
		for _, size := range []int64{11, 15, 100, -1} {
			if _, err := st.Checkpoint(ctx, size); !errors.Is(err, service.ErrNotFound) {
				t.Errorf("Checkpoint(%d): %v, want ErrNotFound", size, err)
			}
		}
	})

	t.Run("latest", func(t *testing.T) {
		if got, err := st.LatestCheckpoint(ctx); err != nil || !equalCheckpoints(got, c50) {
			t.Fatalf("LatestCheckpoint = %+v, %v; want %+v", got, err, c50)
		}
	})

	changedRoot := c50
	changedRoot.Root[0] ^= 1
	changedNote := c50
	changedNote.Note = append(slices.Clone(c50.Note), '!')
	changedOrigin := c50
	changedOrigin.Origin = "other.example/log"
	beyond := sign(101, log.Root(t, 100))
	for _, c := range []struct {
		name string
		cp   notary.Checkpoint
	}{
		{"older, stored", c10},
		{"older, new", sign(15, log.Root(t, 15))},
		{"same size, other root", changedRoot},
		{"same size, other note", changedNote},
		{"same size, other origin", changedOrigin},
		{"same size, other tree", sign(50, log.Root(t, 49))},
		{"beyond the log", beyond},
		{"negative size", notary.Checkpoint{Origin: "o", Size: -1, Note: []byte("n")}},
		{"no note", notary.Checkpoint{Origin: c100.Origin, Size: 100, Root: c100.Root}},
		{"no origin", notary.Checkpoint{Size: 100, Root: c100.Root, Note: c100.Note}},
	} {
		t.Run("refused/"+c.name, func(t *testing.T) {
			err := st.SaveCheckpoint(ctx, c.cp)
			if err == nil {
				t.Fatal("SaveCheckpoint succeeded")
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start %q", err, prefix)
			}
			if got, err := st.LatestCheckpoint(ctx); err != nil || !equalCheckpoints(got, c50) {
				t.Fatalf("latest checkpoint changed to %+v, %v", got, err)
			}
		})
	}

	t.Run("grows", func(t *testing.T) {
		if err := st.SaveCheckpoint(ctx, c100); err != nil {
			t.Fatal(err)
		}
		if got, err := st.LatestCheckpoint(ctx); err != nil || !equalCheckpoints(got, c100) {
			t.Fatalf("LatestCheckpoint = %+v, %v; want size 100", got, err)
		}
	})
}

// testCheckpointsAtOnce: of several saves at once, through two handles, of checkpoints of
// one size that differ, exactly the ones of one of them succeed.
func testCheckpointsAtOnce(t *testing.T, a, b service.Store) {
	ctx := context.Background()
	log := logtest.NewMemLog(t, 101)
	mustAppend(t, a, log, 0, 101)
	c := checkpointSigner(t)(101, log.Root(t, 101))
	other := c
	other.Note = append(slices.Clone(c.Note), '!')
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for k := range errs {
		wg.Go(func() {
			st, cp := a, c
			if k%2 == 1 {
				st, cp = b, other
			}
			errs[k] = st.SaveCheckpoint(ctx, cp)
		})
	}
	wg.Wait()
	latest, err := a.LatestCheckpoint(ctx)
	if err != nil || latest.Size != 101 {
		t.Fatalf("LatestCheckpoint = %+v, %v", latest, err)
	}
	for k, err := range errs {
		stored := bytes.Equal(latest.Note, c.Note) == (k%2 == 0)
		if (err == nil) != stored {
			t.Errorf("save %d (of the stored checkpoint: %v): %v", k, stored, err)
		}
	}
}

// checkpointSigner returns a function that signs checkpoints with the test key.
func checkpointSigner(t *testing.T) func(size int64, root merkle.Hash) notary.Checkpoint {
	s := logtest.Signer(t, logtest.LogSkey)
	return func(size int64, root merkle.Hash) notary.Checkpoint {
		t.Helper()
		cp, err := notary.SignCheckpoint(size, root, s)
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
}

func equalCheckpoints(a, b notary.Checkpoint) bool {
	return a.Origin == b.Origin && a.Size == b.Size && a.Root == b.Root && bytes.Equal(a.Note, b.Note)
}
