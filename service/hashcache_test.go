package service

import (
	"context"
	"fmt"
	"slices"
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
	read(1, 2, 3)
	read(3, 2, 4) // 2 and 3 kept: only 4 is read
	if last := st.reads[len(st.reads)-1]; !slices.Equal(last, []int64{4}) {
		t.Errorf("second read asked the store for %v, want [4]", last)
	}
	read(5) // five read, four kept: 1, the least recently used, goes
	read(1)
	if last := st.reads[len(st.reads)-1]; !slices.Equal(last, []int64{1}) {
		t.Errorf("after five hashes, reading the first asked the store for %v, want [1]", last)
	}
	n := len(st.reads)
	read(1, 5, 4)
	if len(st.reads) != n {
		t.Errorf("hashes kept were read from the store again: %v", st.reads[n:])
	}
	if _, err := c.ReadHashes(t.Context(), []int64{2, 5000}); err == nil {
		t.Error("a hash the store has not: no error")
	}
	if len(c.at) > maxCachedHashes || c.lru.Len() != len(c.at) {
		t.Errorf("%d hashes kept (%d in order), want at most %d", len(c.at), c.lru.Len(), maxCachedHashes)
	}
}
