// Package storetest is the contract test suite of service.Store: every store (SQLite,
// PostgreSQL) runs it, so that the service sees one behaviour whatever holds the log.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// Run runs the contract tests, each on a new, empty store from open. reopen, if not nil,
// opens another handle on the same store as the one open returned last, as a second
// process would: the fencing tests need one.
func Run(t *testing.T, open func(t *testing.T) service.Store, reopen func(t *testing.T) service.Store) {
	tests := []struct {
		name string
		test func(t *testing.T, st service.Store)
	}{
		{"Empty", testEmpty},
		{"AppendAndRead", testAppendAndRead},
		{"AppendOutOfSequence", testAppendOutOfSequence},
		{"ReadHashesContext", testReadHashesContext},
		{"ScanEntries", testScanEntries},
		{"DigestIndex", testDigestIndex},
		{"DigestIndexSharedPrefix", testDigestIndexSharedPrefix},
		{"EntryTimePrecision", testEntryTimePrecision},
		{"Checkpoints", testCheckpoints},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, open(t)) })
	}
	if reopen != nil {
		t.Run("Fencing", func(t *testing.T) { testFencing(t, open(t), reopen(t)) })
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

func testEmpty(t *testing.T, st service.Store) {
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
}

func testAppendAndRead(t *testing.T, st service.Store) {
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

// testReadHashesContext: a hash read whose context is cancelled, or past its deadline,
// returns the context's error and no hashes; the store reads on for other contexts.
func testReadHashesContext(t *testing.T, st service.Store) {
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

func testAppendOutOfSequence(t *testing.T, st service.Store) {
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

func testScanEntries(t *testing.T, st service.Store) {
	ctx := context.Background()
	log := logtest.NewMemLog(t, 50)
	mustAppend(t, st, log, 0, 50)
	for _, from := range []int64{0, 1, 49, 50, 80} {
		var got []int64
		err := st.ScanEntries(ctx, from, func(e notary.Entry) error {
			if e.Digest != log.Entries[e.Index].Digest {
				t.Errorf("scanned entry %d has digest %v", e.Index, e.Digest)
			}
			got = append(got, e.Index)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := max(0, 50-from)
		if int64(len(got)) != want || (want > 0 && (got[0] != from || got[len(got)-1] != 49)) {
			t.Errorf("ScanEntries from %d gave %d entries (%v…), want %d from %d", from, len(got), got[:min(3, len(got))], want, from)
		}
	}
	stop := errors.New("stop")
	calls := 0
	if err := st.ScanEntries(ctx, 0, func(notary.Entry) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ScanEntries = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func testDigestIndex(t *testing.T, st service.Store) {
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
func testDigestIndexSharedPrefix(t *testing.T, st service.Store) {
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
func testEntryTimePrecision(t *testing.T, st service.Store) {
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

func testCheckpoints(t *testing.T, st service.Store) {
	ctx := context.Background()
	log := logtest.NewMemLog(t, 30)
	signer := logtest.Signer(t, logtest.LogSkey)
	sign := func(size int64, root merkle.Hash) notary.Checkpoint {
		cp, err := notary.SignCheckpoint(size, root, signer)
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	if err := st.SaveCheckpoint(ctx, sign(0, log.Root(t, 0))); err != nil {
		t.Fatalf("checkpoint of the empty log: %v", err)
	}
	mustAppend(t, st, log, 0, 30)
	cp10, cp20 := sign(10, log.Root(t, 10)), sign(20, log.Root(t, 20))
	for _, cp := range []notary.Checkpoint{cp10, cp20, cp20} {
		if err := st.SaveCheckpoint(ctx, cp); err != nil {
			t.Fatalf("SaveCheckpoint(%d): %v", cp.Size, err)
		}
	}
	if got, err := st.LatestCheckpoint(ctx); err != nil || got.Size != 20 || string(got.Note) != string(cp20.Note) || got.Root != cp20.Root || got.Origin != cp20.Origin {
		t.Errorf("LatestCheckpoint = %+v, %v; want the one of size 20", got, err)
	}
	if got, err := st.Checkpoint(ctx, 10); err != nil || string(got.Note) != string(cp10.Note) {
		t.Errorf("Checkpoint(10) = %+v, %v", got, err)
	}
	if _, err := st.Checkpoint(ctx, 15); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("Checkpoint(15): %v, want ErrNotFound", err)
	}
	refused := []struct {
		name string
		cp   notary.Checkpoint
	}{
		{"older than the latest", sign(15, log.Root(t, 15))},
		{"another of the latest size", sign(20, log.Root(t, 19))},
		{"beyond the log", sign(31, log.Root(t, 30))},
	}
	for _, tt := range refused {
		if err := st.SaveCheckpoint(ctx, tt.cp); err == nil {
			t.Errorf("SaveCheckpoint %s: no error", tt.name)
		}
	}
	if got, _ := st.LatestCheckpoint(ctx); got.Size != 20 {
		t.Errorf("LatestCheckpoint = %d after refused saves", got.Size)
	}
}
