package merkle

import (
	"errors"
	"fmt"
	"math/bits"
)

// ErrMismatch is wrapped by the errors of [VerifyInclusion] and
// [VerifyConsistency] when a well-formed proof does not lead to the expected
// root. Match it with errors.Is.
var ErrMismatch = errors.New("merkle: proof does not match root")

// The proofs of this file follow one path: the ancestors of leaf x, from the
// node at some level up to the root of a tree of size leaves. Below level
// inner = bit length of x XOR (size−1), the ancestors of x are complete
// subtrees that do not contain the last leaf, and each has a sibling: on the
// left where x has a one bit, on the right (possibly on the tree's right
// edge) where it has a zero. From level inner up, the ancestors contain the
// last leaf: they have a sibling, on the left, only where x has a one bit.

// pathLen returns the number of siblings on the path of leaf x from level up
// to the root of a tree of size leaves. It requires 0 ≤ x < size.
func pathLen(x, size int64, level int) int {
	inner := bits.Len64(uint64(x ^ (size - 1)))
	return max(inner-level, 0) + bits.OnesCount64(uint64(x)>>inner)
}

// appendPath appends to nodes the siblings on the path of leaf x from level
// up to the root of a tree of size leaves, bottom-up. It requires 0 ≤ x < size.
func appendPath(nodes []node, x, size int64, level int) []node {
	inner := bits.Len64(uint64(x ^ (size - 1)))
	for ; level < inner || x>>level != 0; level++ {
		if level >= inner && (x>>level)&1 == 0 {
			continue
		}
		lo := (x>>level ^ 1) << level
		nodes = append(nodes, node{lo, min(lo+1<<level, size)})
	}
	return nodes
}

// climb folds proof, the pathLen(x, size, level) siblings on the path of leaf
// x from level up, into h, the hash of the node at level above x. It returns
// the root of the tree of size leaves and, joining only the left siblings, the
// root of the tree that ends where the node of h ends.
func climb(x, size int64, level int, h Hash, proof []Hash) (root, left Hash) {
	inner := bits.Len64(uint64(x ^ (size - 1)))
	root, left = h, h
	for _, p := range proof {
		for level >= inner && level < 63 && (x>>level)&1 == 0 {
			level++
		}
		if (x>>level)&1 == 1 {
			root = NodeHash(p, root)
			left = NodeHash(p, left)
		} else {
			root = NodeHash(root, p)
		}
		level++
	}
	return root, left
}

// InclusionProof returns the RFC 9162 inclusion proof (audit path) of leaf
// index in the tree of the first size leaves of the log stored in r: the
// hashes of the siblings of the leaf's ancestors, bottom-up. It is empty for a
// tree of one leaf.
//
// It requires 0 ≤ index < size and r to hold at least StoredHashCount(size)
// hashes; it reads O(log size) of them in one call.
func InclusionProof(index, size int64, r HashReader) ([]Hash, error) {
	if index < 0 || index >= size || size > maxSize {
		return nil, fmt.Errorf("merkle: leaf index %d out of range for tree size %d", index, size)
	}
	return readNodes(r, appendPath(nil, index, size, 0))
}

// VerifyInclusion reports whether proof proves that leaf, the RFC 6962 hash of
// leaf index, is in the tree of size leaves whose root is root. It returns nil
// if so, an error wrapping [ErrMismatch] if the proof leads to another root,
// and another error if index is not in [0, size) or the proof does not have
// the length that index and size determine.
//
// The size enters the computation only through the shape of the path, so a
// proof also verifies for the other sizes that give the same shape (leaf 3
// has the same path in trees of 5 to 8 leaves). A root is therefore only
// meaningful together with the size it was published with, as in a signed
// checkpoint.
func VerifyInclusion(index, size int64, leaf, root Hash, proof []Hash) error {
	if index < 0 || index >= size {
		return fmt.Errorf("merkle: leaf index %d out of range for tree size %d", index, size)
	}
	if want := pathLen(index, size, 0); len(proof) != want {
		return fmt.Errorf("merkle: inclusion proof of leaf %d in tree size %d has %d hashes, want %d", index, size, len(proof), want)
	}
	if got, _ := climb(index, size, 0, leaf, proof); got != root {
		return fmt.Errorf("%w: inclusion of leaf %d in tree size %d", ErrMismatch, index, size)
	}
	return nil
}

// ConsistencyProof returns the RFC 9162 consistency proof between the trees
// of the first oldSize and the first newSize leaves of the log stored in r:
// the hashes that let a verifier holding both roots check that the older tree
// is a prefix of the newer. It is empty if oldSize is 0 or equals newSize.
//
// It requires 0 ≤ oldSize ≤ newSize and r to hold at least
// StoredHashCount(newSize) hashes; it reads O(log newSize) of them in one call.
func ConsistencyProof(oldSize, newSize int64, r HashReader) ([]Hash, error) {
	if oldSize < 0 || oldSize > newSize || newSize > maxSize {
		return nil, fmt.Errorf("merkle: invalid tree sizes %d and %d for a consistency proof", oldSize, newSize)
	}
	if oldSize == 0 || oldSize == newSize {
		return []Hash{}, nil
	}
	return readNodes(r, consistencyNodes(oldSize, newSize))
}

// consistencyNodes returns the nodes whose hashes make up the consistency
// proof between sizes 0 < oldSize < newSize. The proof follows the path of
// the old tree's last complete subtree, the one at level shift (the number of
// trailing zero bits of oldSize) ending at leaf oldSize−1, in the new tree; it
// starts with that subtree's own hash unless the subtree is the whole old tree.
func consistencyNodes(oldSize, newSize int64) []node {
	shift := bits.TrailingZeros64(uint64(oldSize))
	var nodes []node
	if oldSize != 1<<shift {
		nodes = append(nodes, node{oldSize - 1<<shift, oldSize})
	}
	return appendPath(nodes, oldSize-1, newSize, shift)
}

// VerifyConsistency reports whether proof proves that the tree of oldSize
// leaves with root oldRoot is a prefix of the tree of newSize leaves with root
// newRoot. It returns nil if so, an error wrapping [ErrMismatch] if the proof
// leads to other roots, and another error if the sizes are not
// 0 ≤ oldSize ≤ newSize or the proof does not have the length that they
// determine.
//
// When oldSize equals newSize the proof must be empty and the roots equal.
// When oldSize is 0 the proof must be empty and oldRoot must be the hash of
// the empty tree, SHA-256 of no bytes; every tree extends the empty tree.
func VerifyConsistency(oldSize, newSize int64, oldRoot, newRoot Hash, proof []Hash) error {
	if oldSize < 0 || oldSize > newSize {
		return fmt.Errorf("merkle: invalid tree sizes %d and %d for a consistency proof", oldSize, newSize)
	}
	want := 0
	if oldSize > 0 && oldSize < newSize {
		shift := bits.TrailingZeros64(uint64(oldSize))
		want = pathLen(oldSize-1, newSize, shift)
		if oldSize != 1<<shift {
			want++
		}
	}
	if len(proof) != want {
		return fmt.Errorf("merkle: consistency proof between tree sizes %d and %d has %d hashes, want %d", oldSize, newSize, len(proof), want)
	}
	if oldSize == 0 && oldRoot != emptyRoot {
		return fmt.Errorf("%w: root of tree size 0 is not the empty tree hash", ErrMismatch)
	}
	if oldSize == newSize && oldRoot != newRoot {
		return fmt.Errorf("%w: different roots for tree size %d", ErrMismatch, oldSize)
	}
	if oldSize == 0 || oldSize == newSize {
		return nil
	}
	shift := bits.TrailingZeros64(uint64(oldSize))
	seed := oldRoot
	if oldSize != 1<<shift {
		seed, proof = proof[0], proof[1:]
	}
	gotNew, gotOld := climb(oldSize-1, newSize, shift, seed, proof)
	if gotOld != oldRoot {
		return fmt.Errorf("%w: consistency proof between tree sizes %d and %d does not lead to the old root", ErrMismatch, oldSize, newSize)
	}
	if gotNew != newRoot {
		return fmt.Errorf("%w: consistency proof between tree sizes %d and %d does not lead to the new root", ErrMismatch, oldSize, newSize)
	}
	return nil
}
