package service

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/notary-dev/notary/merkle"
)

// hashCache reads stored hashes from the store and keeps up to maxCachedHashes of those
// it read, forgetting first those not read again since they were kept or last spared (a
// CLOCK policy, close to forgetting the least recently used). A stored hash never changes
// once the log holds it, so what is kept is never stale. Proofs of random entries share
// the hashes of the tree's upper levels, which are read again and again and stay; those
// near each leaf are read once and go first: at 10^7 entries an inclusion path is 24
// hashes, of which the store read about 10.5 (measured). On a RemoteStore the reads of
// concurrent requests share a query (hashReads).
//
// A read that finds every hash kept takes the lock shared, and the cache holds no
// pointers for the garbage collector to scan.
type hashCache struct {
	store *hashReads

	mu    sync.RWMutex
	at    map[int64]int32 // storage index → its slot
	slots []cachedHash
	hand  int // the next slot to consider when one is to be forgotten
}

type cachedHash struct {
	index int64
	hash  merkle.Hash
	read  atomic.Bool // read since it was kept, or since the hand last passed it
}

// maxCachedHashes bounds the cache: about 5 MB with its bookkeeping, the upper 16 levels
// of a tree of any size. (A variable for tests only.)
var maxCachedHashes = 1 << 16

func newHashCache(st Store) *hashCache {
	return &hashCache{store: newHashReads(st), at: make(map[int64]int32)}
}

// ReadHashes implements HashSource: the hashes kept, and the others in one read of the
// store within ctx, which may be shared with other requests.
func (c *hashCache) ReadHashes(ctx context.Context, indexes []int64) ([]merkle.Hash, error) {
	out := make([]merkle.Hash, len(indexes))
	var missing []int64 // read from the store, for the positions at
	var at []int
	c.mu.RLock()
	for k, i := range indexes {
		if s, ok := c.at[i]; ok {
			e := &c.slots[s]
			if !e.read.Load() {
				e.read.Store(true)
			}
			out[k] = e.hash
			continue
		}
		missing, at = append(missing, i), append(at, k)
	}
	c.mu.RUnlock()
	if len(missing) == 0 {
		return out, nil
	}
	hs, err := c.store.read(ctx, missing)
	if err != nil {
		return nil, err
	}
	if len(hs) != len(missing) {
		return nil, fmt.Errorf("notary: the store returned %d hashes for %d indexes", len(hs), len(missing))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, h := range hs {
		out[at[k]] = h
		c.keep(missing[k], h)
	}
	return out, nil
}

// keep keeps hash h of storage index i, forgetting another if the cache is full. c.mu is
// held.
func (c *hashCache) keep(i int64, h merkle.Hash) {
	if _, ok := c.at[i]; ok {
		return // read meanwhile by another caller
	}
	if len(c.slots) < maxCachedHashes {
		c.at[i] = int32(len(c.slots))
		c.slots = append(c.slots, cachedHash{index: i, hash: h})
		return
	}
	for {
		c.hand %= len(c.slots)
		e := &c.slots[c.hand]
		if e.read.Load() {
			e.read.Store(false) // spared once more
			c.hand++
			continue
		}
		delete(c.at, e.index)
		c.at[i] = int32(c.hand)
		e.index, e.hash = i, h
		c.hand++
		return
	}
}
