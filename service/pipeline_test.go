package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// gatedStore holds each AppendEntries until the test lets it go, with the error to return.
type gatedStore struct {
	*memStore
	entered chan struct{}
	release chan error
}

func (g *gatedStore) AppendEntries(ctx context.Context, entries []notary.Entry, hashes []merkle.Hash) error {
	g.entered <- struct{}{}
	if err := <-g.release; err != nil {
		return err
	}
	return g.memStore.AppendEntries(ctx, entries, hashes)
}

type submission struct {
	entries []notary.Entry
	err     error
}

func submitAsync(s *running, ds []notary.Digest) <-chan submission {
	ch := make(chan submission, 1)
	go func() {
		rs, err := s.SubmitEntries(context.Background(), ds)
		ch <- submission{rs, err}
	}()
	return ch
}

// TestPipeline checks the sequencer's two stages: a batch is prepared while the one before
// it is written, may name entries of that one, and fails with it.
func TestPipeline(t *testing.T) {
	g := &gatedStore{memStore: &memStore{}, entered: make(chan struct{}), release: make(chan error)}
	s := start(t, newService(t, testConfig(t, g)))
	a, b, c := testDigest(1), testDigest(2), testDigest(3)
	// waitPrepared waits until the sequencer has taken every submission.
	waitPrepared := func() {
		eventually(t, "the sequencer to take the batch", func() bool { return s.QueueDepth() == 0 })
		time.Sleep(20 * time.Millisecond)
	}

	t.Run("the batch in flight fails: so does the next", func(t *testing.T) {
		first := submitAsync(s, []notary.Digest{a})
		<-g.entered // the first batch is being written
		second := submitAsync(s, []notary.Digest{b, a})
		waitPrepared()
		broken := errors.New("disk full")
		g.release <- broken
		for i, ch := range []<-chan submission{first, second} {
			var r submission
			select {
			case r = <-ch:
			case <-g.entered:
				// On a slow machine the second batch came after the failure; it fails too.
				t.Log("the second batch was prepared after the first failed")
				g.release <- broken
				r = <-ch
			}
			if !errors.Is(r.err, broken) {
				t.Errorf("batch %d: error %v, want %v", i+1, r.err, broken)
			}
		}
		if s.Size() != 0 {
			t.Errorf("Size() = %d", s.Size())
		}
		for _, d := range []notary.Digest{a, b} {
			if _, ok, _ := s.EntryOf(context.Background(), d); ok {
				t.Errorf("digest %v of a failed batch is indexed", d)
			}
		}
	})

	t.Run("both succeed, the second naming an entry of the first", func(t *testing.T) {
		first := submitAsync(s, []notary.Digest{a, b})
		<-g.entered
		second := submitAsync(s, []notary.Digest{c, b, c})
		waitPrepared()
		// The first batch is not durable yet: nobody sees it.
		if _, ok, _ := s.EntryOf(context.Background(), a); ok {
			t.Error("a digest being written is visible")
		}
		if _, err := s.Lookup(context.Background(), b); !errors.Is(err, service.ErrNotFound) {
			t.Errorf("Lookup of a digest being written: %v", err)
		}
		g.release <- nil
		r1 := <-first
		if r1.err != nil {
			t.Fatal(r1.err)
		}
		<-g.entered
		g.release <- nil
		r2 := <-second
		if r2.err != nil {
			t.Fatal(r2.err)
		}
		// Indexes start from 0 again after the failure.
		if r1.entries[0].Index != 0 || r1.entries[1].Index != 1 || r2.entries[0].Index != 2 {
			t.Errorf("indexes %d %d %d, want 0 1 2", r1.entries[0].Index, r1.entries[1].Index, r2.entries[0].Index)
		}
		if !sameEntry(r2.entries[1], r1.entries[1]) || !sameEntry(r2.entries[2], r2.entries[0]) {
			t.Errorf("repeated digests got other entries: %+v, %+v", r1.entries, r2.entries)
		}
		checkStoredTree(t, g.memStore)
	})

	t.Run("shutdown with a batch in flight answers it", func(t *testing.T) {
		d := testDigest(4)
		ch := submitAsync(s, []notary.Digest{d})
		<-g.entered
		stopped := make(chan struct{})
		go func() { s.stop(t); close(stopped) }()
		time.Sleep(20 * time.Millisecond)
		g.release <- nil
		if r := <-ch; r.err != nil || r.entries[0].Index != 3 {
			t.Errorf("the batch in flight at shutdown: %+v", r)
		}
		<-stopped
	})
}
