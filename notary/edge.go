package notary

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
