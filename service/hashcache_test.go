package service

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/notary-dev/notary/merkle"
)

// countedHashes is a store of the hashes [0, 1000), hash i being i in its first bytes, that
// records the indexes each read asks for.
type countedHashes struct {
	Store
	reads [][]int64
}

func (c *countedHashes) ReadHashes(ctx context.Context, indexes []int64) ([]merkle.Hash, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.reads = append(c.reads, slices.Clone(indexes))
	out := make([]merkle.Hash, len(indexes))
	for k, i := range indexes {
		if i >= 1000 {
			return nil, fmt.Errorf("hash %d: %w", i, ErrNotFound)
		}
		out[k][0], out[k][1] = byte(i), byte(i>>8)
	}
	return out, nil
}

func TestHashCache(t *testing.T) {
	defer func(n int) { maxCachedHashes = n }(maxCachedHashes)
	maxCachedHashes = 4
	st := &countedHashes{}
	c := newHashCache(st)
	read := func(indexes ...int64) {
		t.Helper()
		hs, err := c.ReadHashes(t.Context(), indexes)
		if err != nil {
			t.Fatal(err)
		}
		for k, i := range indexes {
			if hs[k][0] != byte(i) || hs[k][1] != byte(i>>8) {
				t.Fatalf("hash %d read as %x", i, hs[k][:2])
			}
		}
	}
	readFromStore := func(want []int64, indexes ...int64) {
		t.Helper()
		n := len(st.reads)
		read(indexes...)
		var got []int64
		for _, r := range st.reads[n:] {
			got = append(got, r...)
		}
		if !slices.Equal(got, want) {
			t.Errorf("reading %v asked the store for %v, want %v", indexes, got, want)
		}
	}
	readFromStore([]int64{1, 2, 3, 4}, 1, 2, 3, 4)
	readFromStore(nil, 2, 3) // kept, and now read again
	// Full: 5 takes the place of 1, the first kept that was not read again.
	readFromStore([]int64{5}, 5)
	readFromStore(nil, 2, 3, 4, 5)
	readFromStore([]int64{1}, 1)
	// 1 took the place of 2: 2, 3, 4 and 5 had been read again, and the hand spared
	// each once, coming round to 2 again.
	readFromStore(nil, 1, 3, 4, 5)
	readFromStore([]int64{2}, 2)
	if _, err := c.ReadHashes(t.Context(), []int64{2, 5000}); err == nil {
		t.Error("a hash the store has not: no error")
	}
	if len(c.at) > maxCachedHashes || len(c.slots) != len(c.at) {
		t.Errorf("%d hashes kept (%d slots), want at most %d", len(c.at), len(c.slots), maxCachedHashes)
	}
	for i, s := range c.at {
		if c.slots[s].index != i {
			t.Errorf("hash %d is kept in the slot of %d", i, c.slots[s].index)
		}
	}
}

// TestHashCacheConcurrent: readers at once, through a cache smaller than what they read,
// each get the hashes they asked for, and the cache stays within its bound.
func TestHashCacheConcurrent(t *testing.T) {
	defer func(n int) { maxCachedHashes = n }(maxCachedHashes)
	maxCachedHashes = 16
	c := newHashCache(&lockedHashes{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range 200 {
				indexes := []int64{int64(k % 7), int64((g*31 + k*13) % 1000), int64(k % 3)}
				hs, err := c.ReadHashes(t.Context(), indexes)
				if err != nil {
					t.Error(err)
					return
				}
				for j, i := range indexes {
					if hs[j][0] != byte(i) || hs[j][1] != byte(i>>8) {
						t.Errorf("hash %d read as %x", i, hs[j][:2])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if len(c.at) > maxCachedHashes || len(c.slots) != len(c.at) {
		t.Errorf("%d hashes kept (%d slots), want at most %d", len(c.at), len(c.slots), maxCachedHashes)
	}
}

// lockedHashes is a countedHashes that may be read from several goroutines.
type lockedHashes struct {
	mu sync.Mutex
	countedHashes
}

func (l *lockedHashes) ReadHashes(ctx context.Context, indexes []int64) ([]merkle.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.countedHashes.ReadHashes(ctx, indexes)
}
