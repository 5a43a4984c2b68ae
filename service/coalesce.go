package service

import (
	"context"
	"slices"
	"sync"

	"github.com/notary-dev/notary/notary"
)

func newDigestLookups(st Store) *digestLookups {
	_, remote := st.(RemoteStore)
	es, _ := st.(EntryLookupStore)
	return &digestLookups{store: st, entryStore: es, coalesce: remote}
}

// digestLookups looks digests up in the store's digest index. On a RemoteStore it
// coalesces the lookups of concurrent requests: a lookup that finds none under way
// queries the store at once; lookups that arrive while a query is under way wait, and the
// next query takes them all. So the store sees about one query per round trip, however
// many submissions arrive, instead of one per submission. Other stores are called by each
// lookup, in parallel. On an EntryLookupStore the entries found come with the lookup.
type digestLookups struct {
	store      Store
	entryStore EntryLookupStore // the store, if it reads entries as it looks up; else nil
	coalesce   bool

	mu      sync.Mutex
	busy    bool           // a query is under way, or about to be: its caller leads
	waiting []*lookupQuery // to go in the next query
}

// lookupQuery is the lookup of one request. Its fields past done are written by whoever
// leads its query before done is closed; the request reads them after.
type lookupQuery struct {
	digests []notary.Digest
	done    chan struct{}
	lead    bool // set, with done closed, when this query's caller is to lead the next query

	indexes []int64
	entries []notary.Entry // if the store reads them
	err     error
}

// readsEntries reports whether lookup sets the entries found.
func (l *digestLookups) readsEntries() bool { return l.entryStore != nil }

// lookup sets indexes[k] to the index of the first entry of digests[k] in the store's
// digest index, or -1, as Store.LookupDigests does; if entries is not nil and
// readsEntries, it sets entries[k] to that entry as well (its Index is -1 if none). It
// returns ctx's error if ctx ends while the lookup waits for another's query.
func (l *digestLookups) lookup(ctx context.Context, digests []notary.Digest, indexes []int64, entries []notary.Entry) error {
	if !l.coalesce {
		if l.entryStore == nil || entries == nil {
			return l.store.LookupDigests(ctx, digests, indexes)
		}
		if err := l.entryStore.LookupEntries(ctx, digests, entries); err != nil {
			return err
		}
		for k := range entries {
			indexes[k] = entries[k].Index
		}
		return nil
	}
	q := &lookupQuery{digests: digests, done: make(chan struct{})}
	l.mu.Lock()
	l.waiting = append(l.waiting, q)
	if l.busy {
		l.mu.Unlock()
		select {
		case <-q.done:
		case <-ctx.Done():
			l.mu.Lock()
			if !q.lead {
				// Gone before its query ran, or while it runs: the query's leader writes
				// only to q, and never hands the lead to it now.
				l.waiting = slices.DeleteFunc(l.waiting, func(w *lookupQuery) bool { return w == q })
				l.mu.Unlock()
				return ctx.Err()
			}
			l.mu.Unlock()
			// Made leader meanwhile: lead, for the others waiting, then report ctx's end.
			l.lead(ctx)
			return ctx.Err()
		}
		if !q.lead {
			return q.answer(indexes, entries)
		}
		l.mu.Lock()
	}
	l.busy = true
	l.mu.Unlock()
	l.lead(ctx)
	return q.answer(indexes, entries)
}

// answer copies the answer of q's query to indexes and, if both are there, entries.
func (q *lookupQuery) answer(indexes []int64, entries []notary.Entry) error {
	copy(indexes, q.indexes)
	if entries != nil && q.entries != nil {
		copy(entries, q.entries)
	}
	return q.err
}

// lead runs one query for every lookup waiting (its caller's among them), answers them,
// and hands the lead to a lookup that arrived meanwhile, if any. l.busy is set.
func (l *digestLookups) lead(ctx context.Context) {
	l.mu.Lock()
	batch := l.waiting
	l.waiting = nil
	l.mu.Unlock()

	var all []notary.Digest
	for _, q := range batch {
		all = append(all, q.digests...)
	}
	found := make([]int64, len(all))
	var entries []notary.Entry
	// The query answers every lookup of the batch, so it must not end with the leader's
	// own request: each of the others gives up on its own context instead.
	var err error
	if l.entryStore != nil {
		entries = make([]notary.Entry, len(all))
		err = l.entryStore.LookupEntries(context.WithoutCancel(ctx), all, entries)
		for k := range entries {
			found[k] = entries[k].Index
		}
	} else {
		err = l.store.LookupDigests(context.WithoutCancel(ctx), all, found)
	}
	for _, q := range batch {
		n := len(q.digests)
		q.indexes, q.err = found[:n:n], err
		found = found[n:]
		if entries != nil {
			q.entries, entries = entries[:n:n], entries[n:]
		}
		if !q.lead { // handed the lead, its done is closed already
			close(q.done)
		}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.waiting) == 0 {
		l.busy = false
		return
	}
	next := l.waiting[0]
	next.lead = true
	close(next.done)
}
