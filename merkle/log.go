package merkle

import (
	"crypto/sha256"
	"fmt"
	"math/bits"
)

// maxSize is one more than the largest tree size this package stores or proves
// from storage: every storage index of such a tree fits in an int64.
// Verification functions, which use no storage, accept any size.
const maxSize = 1<<62 - 1

// emptyRoot is the RFC 6962 hash of the empty tree: SHA-256 of no bytes.
var emptyRoot = Hash(sha256.Sum256(nil))

// A HashReader reads hashes from a log's storage, addressed by storage index
// (see [StoredHashIndex]).
//
// ReadHashes must return exactly one hash per index, in the order of indexes,
// or an error. The indexes are not necessarily sorted. ReadHashes must not
// modify or retain indexes; the caller does not retain or modify the returned
// slice.
type HashReader interface {
	ReadHashes(indexes []int64) ([]Hash, error)
}

// HashReaderFunc adapts a function to the [HashReader] interface.
type HashReaderFunc func(indexes []int64) ([]Hash, error)

// ReadHashes returns f(indexes).
func (f HashReaderFunc) ReadHashes(indexes []int64) ([]Hash, error) { return f(indexes) }

// StoredHashIndex returns the storage index of the hash of the complete
// subtree of 2^level leaves that starts at leaf n·2^level. Level 0 holds the
// leaf hashes: StoredHashIndex(0, n) is where leaf n's hash is stored.
//
// The layout is that of golang.org/x/mod/sumdb/tlog: the hash is stored right
// after the hashes of leaf (n+1)·2^level − 1 and its completed subtrees of
// lower levels, so storage grows by appending and never changes.
//
// It panics unless level ≥ 0, n ≥ 0 and the subtree lies within the first
// 2^62 − 1 leaves.
func StoredHashIndex(level int, n int64) int64 {
	if level < 0 || level > 61 || n < 0 || n >= maxSize>>level {
		panic(fmt.Sprintf("merkle: StoredHashIndex(%d, %d) out of range", level, n))
	}
	// The subtree is completed by appending leaf last; it is stored after all
	// hashes of the first last leaves, the leaf hash and level−1 lower subtrees.
	last := (n+1)<<level - 1
	return StoredHashCount(last) + int64(level)
}

// StoredHashCount returns the number of hashes stored for a log of n leaves:
// 2n minus the number of one bits in n (each leaf, plus each complete subtree
// of two or more leaves).
//
// It panics unless 0 ≤ n < 2^62.
func StoredHashCount(n int64) int64 {
	if n < 0 || n > maxSize {
		panic(fmt.Sprintf("merkle: StoredHashCount(%d) out of range", n))
	}
	return 2*n - int64(bits.OnesCount64(uint64(n)))
}

// StoredHashes returns the hashes to store when appending leaf n, whose
// RFC 6962 leaf hash (see [LeafHash]) is leaf, to a log of n leaves. The
// caller stores them, in order, at storage indexes StoredHashCount(n),
// StoredHashCount(n)+1, and so on. The first is leaf itself; each following
// hash is that of a complete subtree ending at leaf n, smallest first.
//
// r must hold the StoredHashCount(n) hashes of the first n leaves; StoredHashes
// reads at most log2(n+1) of them, in one call.
func StoredHashes(n int64, leaf Hash, r HashReader) ([]Hash, error) {
	if n < 0 || n >= maxSize {
		return nil, fmt.Errorf("merkle: cannot append leaf %d", n)
	}
	// Leaf n completes one subtree per trailing zero bit of n+1; the subtree at
	// level l joins the one before it at level l−1 with the new subtree.
	m := n + 1
	k := bits.TrailingZeros64(uint64(m))
	out := make([]Hash, 1, 1+k)
	out[0] = leaf
	if k == 0 {
		return out, nil
	}
	indexes := make([]int64, k)
	for l := range k {
		indexes[l] = StoredHashIndex(l, m>>l-2)
	}
	lefts, err := readHashes(r, indexes)
	if err != nil {
		return nil, err
	}
	h := leaf
	for _, left := range lefts {
		h = NodeHash(left, h)
		out = append(out, h)
	}
	return out, nil
}

// TreeHash returns the RFC 6962 root hash of the first size leaves of the log
// stored in r. The root of the empty tree is SHA-256 of no bytes.
//
// r must hold at least StoredHashCount(size) hashes; TreeHash reads one per
// one bit of size, in one call.
func TreeHash(size int64, r HashReader) (Hash, error) {
	if size < 0 || size > maxSize {
		return Hash{}, fmt.Errorf("merkle: invalid tree size %d", size)
	}
	if size == 0 {
		return emptyRoot, nil
	}
	hs, err := readNodes(r, []node{{0, size}})
	if err != nil {
		return Hash{}, err
	}
	return hs[0], nil
}

// A node is the node of an RFC 6962 tree that covers leaves [lo, hi). Nodes
// are either complete subtrees (2^k leaves starting at a multiple of 2^k) or
// lie on a tree's right edge; either way hi−lo splits greedily into complete
// subtrees of decreasing size starting at lo.
type node struct{ lo, hi int64 }

// readNodes returns the hashes of nodes, reading the stored hashes of the
// complete subtrees that make them up in a single call to r.
func readNodes(r HashReader, nodes []node) ([]Hash, error) {
	out := make([]Hash, len(nodes))
	if len(nodes) == 0 {
		return out, nil
	}
	var indexes []int64
	for _, nd := range nodes {
		for lo := nd.lo; lo < nd.hi; {
			level := bits.Len64(uint64(nd.hi-lo)) - 1
			indexes = append(indexes, StoredHashIndex(level, lo>>level))
			lo += 1 << level
		}
	}
	hs, err := readHashes(r, indexes)
	if err != nil {
		return nil, err
	}
	for i, nd := range nodes {
		// The node's hash joins its complete subtrees from the right.
		k := bits.OnesCount64(uint64(nd.hi - nd.lo))
		h := hs[k-1]
		for j := k - 2; j >= 0; j-- {
			h = NodeHash(hs[j], h)
		}
		out[i] = h
		hs = hs[k:]
	}
	return out, nil
}

// readHashes calls r and checks that it answered one hash per index.
func readHashes(r HashReader, indexes []int64) ([]Hash, error) {
	hs, err := r.ReadHashes(indexes)
	if err != nil {
		return nil, fmt.Errorf("merkle: reading stored hashes: %w", err)
	}
	if len(hs) != len(indexes) {
		return nil, fmt.Errorf("merkle: hash reader returned %d hashes for %d indexes", len(hs), len(indexes))
	}
	return hs, nil
}
