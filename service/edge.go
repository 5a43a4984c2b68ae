package service

import (
	"fmt"
	"math/bits"

	"github.com/notary-dev/notary/merkle"
)

// rightEdge is the right edge of the log's Merkle tree: the hashes of the complete
// subtrees that a log of n leaves splits into, one per one bit of n. It is all the
// sequencer needs to compute the stored hashes of the next leaves, without a read and
// without a map: appending leaf n joins the new leaf with the edge subtrees of n's
// trailing one bits.
type rightEdge struct {
	n int64
	h [62]merkle.Hash // h[l]: the subtree of 2^l leaves, if bit l of n is set
}

// edgeIndexes returns the storage indexes of the right edge of a log of n leaves, by level
// of the one bits of n, lowest first.
func edgeIndexes(n int64) (levels []int, indexes []int64) {
	for l := range 62 {
		if n>>l&1 == 1 {
			lo := n >> (l + 1) << (l + 1) // the first leaf of the level-l subtree
			levels = append(levels, l)
			indexes = append(indexes, merkle.StoredHashIndex(l, lo>>l))
		}
	}
	return levels, indexes
}

// loadRightEdge reads the right edge of the log of n leaves stored in r.
func loadRightEdge(n int64, r merkle.HashReader) (rightEdge, error) {
	e := rightEdge{n: n}
	levels, indexes := edgeIndexes(n)
	if len(indexes) == 0 {
		return e, nil
	}
	hs, err := r.ReadHashes(indexes)
	if err != nil {
		return e, fmt.Errorf("notary: reading the right edge of the log: %w", err)
	}
	if len(hs) != len(indexes) {
		return e, fmt.Errorf("notary: reading the right edge of the log: %d hashes for %d indexes", len(hs), len(indexes))
	}
	for k, l := range levels {
		e.h[l] = hs[k]
	}
	return e, nil
}

// append appends leaf n, whose leaf hash is leaf, and appends to out the hashes it adds to
// storage, exactly as merkle.StoredHashes gives them: the leaf hash, then the hash of each
// complete subtree that ends at leaf n, smallest first.
func (e *rightEdge) append(leaf merkle.Hash, out []merkle.Hash) []merkle.Hash {
	h := leaf
	out = append(out, h)
	l := bits.TrailingZeros64(^uint64(e.n)) // the number of trailing one bits of n
	for k := range l {
		h = merkle.NodeHash(e.h[k], h)
		out = append(out, h)
	}
	e.h[l] = h
	e.n++
	return out
}

// root returns the RFC 6962 root of the log of e.n leaves: its edge subtrees joined from
// the smallest up. The log must not be empty.
func (e *rightEdge) root() merkle.Hash {
	l := bits.TrailingZeros64(uint64(e.n))
	h := e.h[l]
	for l++; l < len(e.h); l++ {
		if e.n>>l&1 == 1 {
			h = merkle.NodeHash(e.h[l], h)
		}
	}
	return h
}

// commitHashes reads the stored hashes that proofs of a commit's entries need, in memory:
// those the commit added (hashes, from storage index merkle.StoredHashCount(edge.n) on) and
// the right edge of the log before it. Every subtree left of the commit's first entry that an
// inclusion proof of one of its entries names is a subtree of that edge.
type commitHashes struct {
	edge   *rightEdge
	first  int64   // the storage index of hashes[0]
	levels []int   // the levels of the edge's subtrees, lowest first
	stored []int64 // their storage indexes
	hashes []merkle.Hash
}

func newCommitHashes(edge *rightEdge, hashes []merkle.Hash) *commitHashes {
	levels, stored := edgeIndexes(edge.n)
	return &commitHashes{edge: edge, first: merkle.StoredHashCount(edge.n), levels: levels, stored: stored, hashes: hashes}
}

func (c *commitHashes) ReadHashes(indexes []int64) ([]merkle.Hash, error) {
	out := make([]merkle.Hash, len(indexes))
next:
	for i, x := range indexes {
		if x >= c.first && x-c.first < int64(len(c.hashes)) {
			out[i] = c.hashes[x-c.first]
			continue
		}
		for k, y := range c.stored {
			if x == y {
				out[i] = c.edge.h[c.levels[k]]
				continue next
			}
		}
		return nil, fmt.Errorf("notary: stored hash %d is neither on the right edge of %d entries nor among the commit's", x, c.edge.n)
	}
	return out, nil
}
