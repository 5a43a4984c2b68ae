package service

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// gatedIndex is a digest index whose queries each wait for a value on gate; it records
// the digests of each query. Digest(i) is at entry i for i < 1000, the rest are unknown.
type gatedIndex struct {
	Store
	gate    chan error
	started chan int // the number of digests of each query, as it starts
	mu      sync.Mutex
	queries [][]notary.Digest
}

func newGatedIndex() *gatedIndex {
	return &gatedIndex{gate: make(chan error), started: make(chan int, 100)}
}

func (g *gatedIndex) LookupDigests(ctx context.Context, digests []notary.Digest, indexes []int64) error {
	g.mu.Lock()
	g.queries = append(g.queries, digests)
	g.mu.Unlock()
	g.started <- len(digests)
	if err := <-g.gate; err != nil {
		return err
	}
	for k, d := range digests {
		indexes[k] = -1
		for i := range int64(1000) {
			if logtest.Digest(i) == d {
				indexes[k] = i
				break
			}
		}
	}
	return nil
}

type lookupResult struct {
	indexes []int64
	err     error
}

func startLookup(ctx context.Context, l *digestLookups, ds ...notary.Digest) chan lookupResult {
	out := make(chan lookupResult, 1)
	go func() {
		idx := make([]int64, len(ds))
		err := l.lookup(ctx, ds, idx, nil)
		out <- lookupResult{idx, err}
	}()
	return out
}

// coalescing returns the digest lookups of st, coalesced as on a RemoteStore.
func coalescing(st Store) *digestLookups {
	l := newDigestLookups(st)
	l.coalesce = true
	return l
}

// waitFor waits until n lookups wait behind the query under way.
func waitFor(t *testing.T, l *digestLookups, n int) {
	t.Helper()
	for {
		l.batch.mu.Lock()
		k := len(l.batch.waiting)
		l.batch.mu.Unlock()
		if k == n {
			return
		}
		if k > n {
			t.Fatalf("%d lookups waiting, want %d", k, n)
		}
		runtime.Gosched() // let the lookups started get to the queue
	}
}

func TestDigestLookupsCoalesce(t *testing.T) {
	g := newGatedIndex()
	l := coalescing(g)
	ctx := context.Background()
	first := startLookup(ctx, l, logtest.Digest(1))
	if n := <-g.started; n != 1 {
		t.Fatalf("first query has %d digests, want 1", n)
	}
	// Ten lookups arrive while the first query is under way: they go in one query.
	var rest []chan lookupResult
	for i := range int64(10) {
		rest = append(rest, startLookup(ctx, l, logtest.Digest(10+i), logtest.Digest(5000+i)))
	}
	waitFor(t, l, 10)
	g.gate <- nil
	if r := <-first; r.err != nil || r.indexes[0] != 1 {
		t.Fatalf("first lookup = %v, %v; want [1]", r.indexes, r.err)
	}
	if n := <-g.started; n != 20 {
		t.Fatalf("second query has %d digests, want the 20 of the 10 lookups that waited", n)
	}
	g.gate <- nil
	for i, c := range rest {
		r := <-c
		if want := []int64{10 + int64(i), -1}; r.err != nil || !slices.Equal(r.indexes, want) {
			t.Errorf("lookup %d = %v, %v; want %v", i, r.indexes, r.err, want)
		}
	}
	if len(g.queries) != 2 {
		t.Errorf("%d queries for 11 lookups, want 2", len(g.queries))
	}
	// Nothing under way now: the next lookup queries at once.
	next := startLookup(ctx, l, logtest.Digest(3))
	if n := <-g.started; n != 1 {
		t.Fatalf("query after a quiet spell has %d digests, want 1", n)
	}
	g.gate <- nil
	if r := <-next; r.err != nil || r.indexes[0] != 3 {
		t.Errorf("lookup after a quiet spell = %v, %v", r.indexes, r.err)
	}
}

func TestDigestLookupsErrorReachesEveryone(t *testing.T) {
	g := newGatedIndex()
	l := coalescing(g)
	ctx := context.Background()
	first := startLookup(ctx, l, logtest.Digest(1))
	<-g.started
	a, b := startLookup(ctx, l, logtest.Digest(2)), startLookup(ctx, l, logtest.Digest(3))
	waitFor(t, l, 2)
	g.gate <- nil
	<-first
	<-g.started
	failed := errors.New("the database is gone")
	g.gate <- failed
	for _, c := range []chan lookupResult{a, b} {
		if r := <-c; !errors.Is(r.err, failed) {
			t.Errorf("lookup in a failed query: %v, want %v", r.err, failed)
		}
	}
}

func TestDigestLookupsCallerGivesUp(t *testing.T) {
	g := newGatedIndex()
	l := coalescing(g)
	first := startLookup(context.Background(), l, logtest.Digest(1))
	<-g.started
	// The lookup first in line gives up while it waits: the one behind it is still
	// answered, by a query without the one that gave up.
	ctx, cancel := context.WithCancel(context.Background())
	gone := startLookup(ctx, l, logtest.Digest(2))
	waitFor(t, l, 1)
	kept := startLookup(context.Background(), l, logtest.Digest(4))
	waitFor(t, l, 2)
	cancel()
	if r := <-gone; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("lookup whose context ended: %v, want context.Canceled", r.err)
	}
	waitFor(t, l, 1)
	g.gate <- nil
	<-first
	if n := <-g.started; n != 1 {
		t.Fatalf("query after one gave up has %d digests, want 1", n)
	}
	g.gate <- nil
	if r := <-kept; r.err != nil || r.indexes[0] != 4 {
		t.Errorf("lookup behind one that gave up = %v, %v; want [4]", r.indexes, r.err)
	}
	// The leader's own context ending does not fail the others of its query.
	lctx, lcancel := context.WithCancel(context.Background())
	leader := startLookup(lctx, l, logtest.Digest(5))
	<-g.started
	other := startLookup(context.Background(), l, logtest.Digest(6))
	waitFor(t, l, 1)
	lcancel()
	g.gate <- nil
	if r := <-leader; r.err != nil || r.indexes[0] != 5 {
		t.Errorf("leader whose context ended during its query = %v, %v; want its answer", r.indexes, r.err)
	}
	<-g.started
	g.gate <- nil
	if r := <-other; r.err != nil || r.indexes[0] != 6 {
		t.Errorf("lookup behind a leader whose context ended = %v, %v; want [6]", r.indexes, r.err)
	}
}

// gatedEntryIndex is a gatedIndex that reads the entries it finds, as an EntryLookupStore:
// the entry of Digest(i) has Time i seconds past the epoch.
type gatedEntryIndex struct{ *gatedIndex }

func (g gatedEntryIndex) LookupEntries(ctx context.Context, digests []notary.Digest, entries []notary.Entry) error {
	indexes := make([]int64, len(digests))
	if err := g.LookupDigests(ctx, digests, indexes); err != nil {
		return err
	}
	for k, i := range indexes {
		entries[k] = notary.Entry{Index: i}
		if i >= 0 {
			entries[k] = notary.Entry{Index: i, Digest: digests[k], Time: time.Unix(i, 0).UTC()}
		}
	}
	return nil
}

// TestDigestLookupsEntries: on an EntryLookupStore the lookups that share a query each get
// their own entries from it, and a lookup that asks for none gets its indexes alone.
func TestDigestLookupsEntries(t *testing.T) {
	g := gatedEntryIndex{newGatedIndex()}
	l := coalescing(g)
	if !l.readsEntries() {
		t.Fatal("an EntryLookupStore's lookups do not read entries")
	}
	ctx := context.Background()
	type result struct {
		indexes []int64
		entries []notary.Entry
		err     error
	}
	start := func(want bool, ds ...notary.Digest) chan result {
		out := make(chan result, 1)
		go func() {
			r := result{indexes: make([]int64, len(ds))}
			if want {
				r.entries = make([]notary.Entry, len(ds))
			}
			r.err = l.lookup(ctx, ds, r.indexes, r.entries)
			out <- r
		}()
		return out
	}
	first := start(true, logtest.Digest(1))
	<-g.started
	a := start(true, logtest.Digest(7), logtest.Digest(5000), logtest.Digest(8))
	b := start(false, logtest.Digest(9))
	waitFor(t, l, 2)
	g.gate <- nil
	if r := <-first; r.err != nil || r.entries[0].Index != 1 || r.entries[0].Time.Unix() != 1 {
		t.Fatalf("first lookup = %v, %v, %v; want entry 1", r.indexes, r.entries, r.err)
	}
	if n := <-g.started; n != 4 {
		t.Fatalf("second query has %d digests, want 4", n)
	}
	g.gate <- nil
	r := <-a
	if r.err != nil || !slices.Equal(r.indexes, []int64{7, -1, 8}) {
		t.Fatalf("lookup = %v, %v; want [7 -1 8]", r.indexes, r.err)
	}
	for k, want := range []int64{7, -1, 8} {
		e := r.entries[k]
		if e.Index != want || (want >= 0 && (e.Digest != logtest.Digest(want) || e.Time.Unix() != want)) {
			t.Errorf("entry %d of the lookup = %+v, want the entry at %d", k, e, want)
		}
	}
	if r := <-b; r.err != nil || r.indexes[0] != 9 || r.entries != nil {
		t.Errorf("lookup without entries = %v, %v, %v; want [9] alone", r.indexes, r.entries, r.err)
	}
}

// gatedHashes is a countedHashes whose reads each wait for a value on gate.
type gatedHashes struct {
	countedHashes
	mu      sync.Mutex
	gate    chan struct{}
	started chan int // the number of indexes of each read, as it starts
}

func (g *gatedHashes) ReadHashes(ctx context.Context, indexes []int64) ([]merkle.Hash, error) {
	g.started <- len(indexes)
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.countedHashes.ReadHashes(ctx, indexes)
}

// TestHashReadsCoalesce: the hash reads of concurrent requests share one read of the
// store, and a request that asks for a missing hash fails alone: the others of its read
// are answered, each read again alone.
func TestHashReadsCoalesce(t *testing.T) {
	g := &gatedHashes{gate: make(chan struct{}), started: make(chan int, 100)}
	r := newHashReads(g)
	r.coalesce = true
	type result struct {
		hs  []merkle.Hash
		err error
	}
	start := func(indexes ...int64) chan result {
		out := make(chan result, 1)
		go func() {
			hs, err := r.read(context.Background(), indexes)
			out <- result{hs, err}
		}()
		return out
	}
	check := func(res result, indexes ...int64) {
		t.Helper()
		if res.err != nil || len(res.hs) != len(indexes) {
			t.Fatalf("read of %v = %d hashes, %v", indexes, len(res.hs), res.err)
		}
		for k, i := range indexes {
			if res.hs[k][0] != byte(i) || res.hs[k][1] != byte(i>>8) {
				t.Fatalf("hash %d read as %x", i, res.hs[k][:2])
			}
		}
	}
	waiting := func(n int) {
		for {
			r.batch.mu.Lock()
			k := len(r.batch.waiting)
			r.batch.mu.Unlock()
			if k == n {
				return
			}
			runtime.Gosched()
		}
	}
	first := start(1, 2)
	<-g.started
	a, b := start(300, 301, 7), start(999, 5)
	waiting(2)
	g.gate <- struct{}{}
	check(<-first, 1, 2)
	if n := <-g.started; n != 5 {
		t.Fatalf("the second read has %d indexes, want the 5 of the two requests that waited", n)
	}
	g.gate <- struct{}{}
	check(<-a, 300, 301, 7)
	check(<-b, 999, 5)
	if len(g.reads) != 2 {
		t.Fatalf("%d reads of the store for three requests, want 2", len(g.reads))
	}

	// One request asks for a hash the store lacks.
	first = start(3)
	<-g.started
	bad, good := start(4, 1000), start(6, 8)
	waiting(2)
	g.gate <- struct{}{}
	check(<-first, 3)
	<-g.started
	g.gate <- struct{}{} // the shared read fails; each request reads again alone
	for range 2 {
		<-g.started
		g.gate <- struct{}{}
	}
	if res := <-bad; !errors.Is(res.err, ErrNotFound) {
		t.Errorf("read of a missing hash: %v, want ErrNotFound", res.err)
	}
	check(<-good, 6, 8)

	// A request whose context has ended reads nothing.
	reads := len(g.reads)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.read(cancelled, []int64{1}); !errors.Is(err, context.Canceled) || len(g.reads) != reads {
		t.Errorf("read of a cancelled request: %v after %d reads of the store, want context.Canceled after none", err, len(g.reads)-reads)
	}
}
