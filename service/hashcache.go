package service

import (
	"container/list"
	"context"
	"fmt"
	"sync"

	"github.com/notary-dev/notary/merkle"
)

// hashCache reads stored hashes from the store and keeps the last maxCachedHashes it
// read, forgetting the least recently used. A stored hash never changes once the log
// holds it, so what is kept is never stale. Proofs of random entries share the hashes of
// the tree's upper levels, which stay; only the few near each leaf are read: at 10^7
// entries an inclusion path is 24 hashes, of which the store read about 10.5 (measured).
type hashCache struct {
	store Store

	mu  sync.Mutex
	lru *list.List // of *cachedHash, most recently used first
	at  map[int64]*list.Element
}

type cachedHash struct {
	index int64
	hash  merkle.Hash
}

// maxCachedHashes bounds the cache: about 9 MB with its bookkeeping, the upper 16 levels
// of a tree of any size. (A variable for tests only.)
var maxCachedHashes = 1 << 16

func newHashCache(st Store) *hashCache {
	return &hashCache{store: st, lru: list.New(), at: make(map[int64]*list.Element)}
}

// ReadHashes implements HashSource: the hashes kept, and the others in one read of the
// store within ctx.
func (c *hashCache) ReadHashes(ctx context.Context, indexes []int64) ([]merkle.Hash, error) {
	out := make([]merkle.Hash, len(indexes))
	var missing []int64 // read from the store, for the positions at
	var at []int
	c.mu.Lock()
	for k, i := range indexes {
		if e, ok := c.at[i]; ok {
			c.lru.MoveToFront(e)
			out[k] = e.Value.(*cachedHash).hash
			continue
		}
		missing, at = append(missing, i), append(at, k)
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	hs, err := c.store.ReadHashes(ctx, missing)
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
		if _, ok := c.at[missing[k]]; ok {
			continue // read meanwhile by another caller
		}
		c.at[missing[k]] = c.lru.PushFront(&cachedHash{index: missing[k], hash: h})
		if c.lru.Len() > maxCachedHashes {
			oldest := c.lru.Back()
			c.lru.Remove(oldest)
			delete(c.at, oldest.Value.(*cachedHash).index)
		}
	}
	return out, nil
}
