package service_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// TestServiceRepeatedDigestAfterIndexing checks that a digest submitted again returns its
// first entry once that entry has left the service's memory for the store's digest index,
// in the same process and after a restart, for single and batch submissions.
func TestServiceRepeatedDigestAfterIndexing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "notary.db")
	db := openStore(t, path)
	s := start(t, newService(t, testConfig(t, db)))
	ds := digests("indexed", 300)
	first, err := s.SubmitEntries(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the digest index to cover the log", func() bool { return s.Unindexed() == 0 })
	check := func(t *testing.T, s *service.Service) {
		t.Helper()
		again, err := s.SubmitEntries(ctx, append([]notary.Digest{ds[299]}, ds[:10]...))
		if err != nil {
			t.Fatal(err)
		}
		for k, e := range again {
			want := first[299]
			if k > 0 {
				want = first[k-1]
			}
			if !sameEntry(e, want) {
				t.Errorf("digest %v submitted again got entry %+v, want its first %+v", e.Digest, e, want)
			}
		}
		ts, err := s.Submit(ctx, ds[150])
		if err != nil {
			t.Fatal(err)
		}
		if !sameEntry(ts.Entry, first[150]) {
			t.Errorf("Submit of a repeated digest got entry %d, want %d", ts.Entry.Index, first[150].Index)
		}
		if got, ok, err := s.EntryOf(ctx, ds[42]); err != nil || !ok || got.Index != 42 || got.Digest != ds[42] {
			t.Errorf("EntryOf = %+v, %v, %v; want the entry at 42", got, ok, err)
		}
		if s.Size() != 300 {
			t.Errorf("the log grew to %d entries from repeated digests", s.Size())
		}
	}
	t.Run("same process", func(t *testing.T) { check(t, s.Service) })
	s.stop(t)
	db.Close()
	t.Run("after a restart", func(t *testing.T) {
		db := openStore(t, path)
		check(t, start(t, newService(t, testConfig(t, db))).Service)
	})
}

// failingIndex is a memStore whose digest index never moves.
type failingIndex struct{ memStore }

func (f *failingIndex) IndexDigests(ctx context.Context, through int64) error {
	return errors.New("index unavailable")
}

// TestServicePushback checks that new digests are pushed back, not queued without end,
// while the digest index lags more than MaxUnindexed entries, that nothing of a pushed
// back submission is logged, and that digests already logged are still answered.
func TestServicePushback(t *testing.T) {
	ctx := context.Background()
	st := &failingIndex{}
	cfg := testConfig(t, st)
	cfg.MaxUnindexed = 10
	s := start(t, newService(t, cfg))
	ds := digests("pushback", 20)
	if _, err := s.SubmitEntries(ctx, ds[:11]); err != nil {
		t.Fatal(err)
	}
	_, err := s.Submit(ctx, ds[11])
	if !errors.Is(err, service.ErrPushback) {
		t.Fatalf("Submit with the index %d entries behind: %v, want ErrPushback", s.Unindexed(), err)
	}
	if _, err := s.SubmitEntries(ctx, ds[11:]); !errors.Is(err, service.ErrPushback) {
		t.Fatalf("SubmitEntries: %v, want ErrPushback", err)
	}
	if s.Size() != 11 {
		t.Errorf("the log has %d entries after pushback, want 11", s.Size())
	}
	ts, err := s.Submit(ctx, ds[3])
	if err != nil || ts.Entry.Index != 3 {
		t.Errorf("Submit of a logged digest during pushback: %v, %v", ts, err)
	}
}

// TestServiceDedupUnderIndexing submits overlapping batches from many goroutines while the
// index moves in small steps, so that lookups race with the indexer's pruning: every
// digest must still get exactly one entry.
func TestServiceDedupUnderIndexing(t *testing.T) {
	service.SetIndexPace(t, 7, time.Millisecond, 0)
	ctx := context.Background()
	s, db := newRunning(t)
	ds := digests("race", 6000)
	var wg sync.WaitGroup
	got := make([][]notary.Entry, 8)
	for w := range got {
		wg.Go(func() {
			for round := range 6 {
				lo := (w*500 + round*700) % 5000
				es, err := s.SubmitEntries(ctx, ds[lo:lo+1000])
				if err != nil {
					t.Error(err)
					return
				}
				got[w] = append(got[w], es...)
			}
		})
	}
	wg.Wait()
	first := map[notary.Digest]int64{}
	for _, es := range got {
		for _, e := range es {
			if i, ok := first[e.Digest]; ok && i != e.Index {
				t.Fatalf("digest %v got entries %d and %d", e.Digest, i, e.Index)
			}
			first[e.Digest] = e.Index
		}
	}
	if s.Size() != int64(len(first)) {
		t.Errorf("the log has %d entries for %d distinct digests", s.Size(), len(first))
	}
	eventually(t, "the digest index to cover the log", func() bool { return s.Unindexed() == 0 })
	if _, err := service.Audit(ctx, db, logVkey, nil); err != nil {
		t.Errorf("Audit: %v", err)
	}
}

// TestServiceQueueFullPushesBack stalls the store so that the sequencer's queue fills: the
// next submission is refused at once with ErrPushback, and every one queued before is
// logged once the store moves again.
func TestServiceQueueFullPushesBack(t *testing.T) {
	ctx := context.Background()
	g := &gatedStore{memStore: &memStore{}, entered: make(chan struct{}, 1<<14), release: make(chan error)}
	cfg := testConfig(t, g)
	cfg.MaxBatch = 1
	s := start(t, newService(t, cfg))
	ds := digests("queued", 5000)
	var wg sync.WaitGroup
	var logged, pushed atomic.Int64
	for _, d := range ds[:4500] {
		wg.Go(func() {
			_, err := s.Submit(ctx, d)
			switch {
			case err == nil:
				logged.Add(1)
			case errors.Is(err, service.ErrPushback):
				pushed.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	eventually(t, "the queue to fill", func() bool { return s.QueueDepth() == queueCapacity })
	if _, err := s.Submit(ctx, ds[4999]); !errors.Is(err, service.ErrPushback) {
		t.Fatalf("Submit with the queue full: %v, want ErrPushback", err)
	}
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case g.release <- nil:
			case <-stop:
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	if pushed.Load() == 0 || logged.Load()+pushed.Load() != 4500 || s.Size() != logged.Load() {
		t.Errorf("%d logged, %d pushed back, log of %d entries; want every one either logged or pushed back, some pushed back",
			logged.Load(), pushed.Load(), s.Size())
	}
}

// queueCapacity is the sequencer's queue capacity.
const queueCapacity = 4096
