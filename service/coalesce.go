package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// coalescer has the calls of concurrent requests to a store share calls: a request that
// finds no call under way calls at once; requests that arrive while one is under way
// wait, and the next call takes them all. So the store sees about one call per round
// trip, however many requests arrive, instead of one per request. It is for a
// RemoteStore, each of whose calls is a round trip.
type coalescer[T, R any] struct {
	// call answers items, one R for each, in order.
	call func(ctx context.Context, items []T) ([]R, error)

	mu      sync.Mutex
	busy    bool               // a call is under way, or about to be: its caller leads
	waiting []*coalesced[T, R] // to go in the next call
}

// coalesced is the part of one request in a call. Its fields past done are written by
// whoever leads its call before done is closed; the request reads them after.
type coalesced[T, R any] struct {
	items []T
	done  chan struct{}
	lead  bool // set, with done closed, when this request is to lead the next call

	out []R
	err error
}

// do returns call's answer to items, from a call it may share with other requests. It
// returns ctx's error if ctx has ended, or ends while the request waits for another's
// call. A call for one request alone is made within its ctx; a shared call is not cut
// short when one of its requests ends.
func (c *coalescer[T, R]) do(ctx context.Context, items []T) ([]R, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q := &coalesced[T, R]{items: items, done: make(chan struct{})}
	c.mu.Lock()
	c.waiting = append(c.waiting, q)
	if c.busy {
		c.mu.Unlock()
		select {
		case <-q.done:
		case <-ctx.Done():
			c.mu.Lock()
			if !q.lead {
				// Gone before its call ran, or while it runs: the call's leader writes
				// only to q, and never hands the lead to it now.
				c.waiting = slices.DeleteFunc(c.waiting, func(w *coalesced[T, R]) bool { return w == q })
				c.mu.Unlock()
				return nil, ctx.Err()
			}
			c.mu.Unlock()
			// Made leader meanwhile: lead, for the others waiting, then report ctx's end.
			c.lead(ctx)
			return nil, ctx.Err()
		}
		if !q.lead {
			return q.out, q.err
		}
		c.mu.Lock()
	}
	c.busy = true
	c.mu.Unlock()
	c.lead(ctx)
	return q.out, q.err
}

// lead makes one call for every request waiting (its caller's among them), answers them,
// and hands the lead to a request that arrived meanwhile, if any. c.busy is set.
func (c *coalescer[T, R]) lead(ctx context.Context) {
	c.mu.Lock()
	batch := c.waiting
	c.waiting = nil
	c.mu.Unlock()

	var all []T
	for _, q := range batch {
		all = append(all, q.items...)
	}
	// A call that answers other requests too must not end with the leader's own: each of
	// the others gives up on its own context instead.
	callCtx := ctx
	if len(batch) > 1 {
		callCtx = context.WithoutCancel(ctx)
	}
	out, err := c.call(callCtx, all)
	if err == nil && len(out) != len(all) {
		err = fmt.Errorf("notary: the store answered %d of %d items", len(out), len(all))
	}
	for _, q := range batch {
		n := len(q.items)
		q.err = err
		if err == nil {
			q.out, out = out[:n:n], out[n:]
		}
		if !q.lead { // handed the lead, its done is closed already
			close(q.done)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.waiting) == 0 {
		c.busy = false
		return
	}
	next := c.waiting[0]
	next.lead = true
	close(next.done)
}

func newDigestLookups(st Store) *digestLookups {
	_, remote := st.(RemoteStore)
	es, _ := st.(EntryLookupStore)
	l := &digestLookups{store: st, entryStore: es, coalesce: remote}
	l.batch.call = l.lookupEntries
	return l
}

// digestLookups looks digests up in the store's digest index. On a RemoteStore it
// coalesces the lookups of concurrent requests; other stores are called by each lookup,
// in parallel. On an EntryLookupStore the entries found come with the lookup.
type digestLookups struct {
	store      Store
	entryStore EntryLookupStore // the store, if it reads entries as it looks up; else nil
	coalesce   bool
	batch      coalescer[notary.Digest, notary.Entry]
}

// readsEntries reports whether lookup sets the entries found.
func (l *digestLookups) readsEntries() bool { return l.entryStore != nil }

// lookup sets indexes[k] to the index of the first entry of digests[k] in the store's
// digest index, or -1, as Store.LookupDigests does; if entries is not nil and
// readsEntries, it sets entries[k] to that entry as well (its Index is -1 if none). It
// returns ctx's error if ctx ends while the lookup waits for another's query.
func (l *digestLookups) lookup(ctx context.Context, digests []notary.Digest, indexes []int64, entries []notary.Entry) error {
	if !l.coalesce && (l.entryStore == nil || entries == nil) {
		return l.store.LookupDigests(ctx, digests, indexes)
	}
	var found []notary.Entry
	var err error
	if l.coalesce {
		found, err = l.batch.do(ctx, digests)
	} else {
		found, err = l.lookupEntries(ctx, digests)
	}
	if err != nil {
		return err
	}
	for k := range found {
		indexes[k] = found[k].Index
	}
	if entries != nil && l.readsEntries() {
		copy(entries, found)
	}
	return nil
}

// lookupEntries looks digests up with one call of the store: the first entry of each,
// or one with Index -1. Unless the store is an EntryLookupStore, only the entries'
// Index is set.
func (l *digestLookups) lookupEntries(ctx context.Context, digests []notary.Digest) ([]notary.Entry, error) {
	entries := make([]notary.Entry, len(digests))
	if l.entryStore != nil {
		return entries, l.entryStore.LookupEntries(ctx, digests, entries)
	}
	indexes := make([]int64, len(digests))
	if err := l.store.LookupDigests(ctx, digests, indexes); err != nil {
		return nil, err
	}
	for k, i := range indexes {
		entries[k].Index = i
	}
	return entries, nil
}

// hashReads reads stored hashes from the store. On a RemoteStore it coalesces the reads
// of concurrent requests, as digestLookups does their lookups.
type hashReads struct {
	store    Store
	coalesce bool
	batch    coalescer[int64, merkle.Hash]
}

func newHashReads(st Store) *hashReads {
	_, remote := st.(RemoteStore)
	r := &hashReads{store: st, coalesce: remote}
	r.batch.call = st.ReadHashes
	return r
}

// read returns the stored hashes at indexes, as Store.ReadHashes does. A shared read that
// fails for want of a hash is made again alone, so that a request fails only for the
// hashes it asked for. If ctx ends while the request waits for another's read, read
// returns ctx's error.
func (r *hashReads) read(ctx context.Context, indexes []int64) ([]merkle.Hash, error) {
	if !r.coalesce {
		return r.store.ReadHashes(ctx, indexes)
	}
	hs, err := r.batch.do(ctx, indexes)
	if errors.Is(err, ErrNotFound) {
		return r.store.ReadHashes(ctx, indexes)
	}
	return hs, err
}
