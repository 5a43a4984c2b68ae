package merkle

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

// This file holds a naive reference for RFC 6962 and RFC 9162, written
// straight from the recursive definitions (RFC 9162, section 2.1), and an
// in-memory log for tests.

// refSplit returns the largest power of two smaller than n, for n > 1.
func refSplit(n int64) int64 {
	k := int64(1)
	for k < n-k {
		k <<= 1
	}
	return k
}

// refRoot returns MTH(D[n]) for the leaf hashes leaves.
func refRoot(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := refSplit(int64(len(leaves)))
	return NodeHash(refRoot(leaves[:k]), refRoot(leaves[k:]))
}

// refPath returns PATH(m, D[n]).
func refPath(m int64, leaves []Hash) []Hash {
	n := int64(len(leaves))
	if n == 1 {
		return nil
	}
	k := refSplit(n)
	if m < k {
		return append(refPath(m, leaves[:k]), refRoot(leaves[k:]))
	}
	return append(refPath(m-k, leaves[k:]), refRoot(leaves[:k]))
}

// refProof returns PROOF(m, D[n]) = SUBPROOF(m, D[n], true).
func refProof(m int64, leaves []Hash) []Hash {
	return refSubproof(m, leaves, true)
}

func refSubproof(m int64, leaves []Hash, b bool) []Hash {
	n := int64(len(leaves))
	if m == n {
		if b {
			return nil
		}
		return []Hash{refRoot(leaves)}
	}
	k := refSplit(n)
	if m <= k {
		return append(refSubproof(m, leaves[:k], b), refRoot(leaves[k:]))
	}
	return append(refSubproof(m-k, leaves[k:], false), refRoot(leaves[:k]))
}

// refVerifyInclusion recomputes the root from an audit path by following the
// definition of PATH top-down, consuming the path from its end. It reports
// whether the path has the shape of PATH(m, D[n]) and leads to root.
func refVerifyInclusion(m, n int64, leaf, root Hash, path []Hash) bool {
	if m < 0 || m >= n {
		return false
	}
	got, ok := refRootFromPath(m, n, leaf, path)
	return ok && got == root
}

func refRootFromPath(m, n int64, leaf Hash, path []Hash) (Hash, bool) {
	if n == 1 {
		return leaf, len(path) == 0
	}
	if len(path) == 0 {
		return Hash{}, false
	}
	k := refSplit(n)
	sib, rest := path[len(path)-1], path[:len(path)-1]
	if m < k {
		h, ok := refRootFromPath(m, k, leaf, rest)
		return NodeHash(h, sib), ok
	}
	h, ok := refRootFromPath(m-k, n-k, leaf, rest)
	return NodeHash(sib, h), ok
}

// refPathLen returns len(PATH(m, D[n])).
func refPathLen(m, n int64) int {
	if n == 1 {
		return 0
	}
	k := refSplit(n)
	if m < k {
		return 1 + refPathLen(m, k)
	}
	return 1 + refPathLen(m-k, n-k)
}

// refVerifyConsistency follows the definition of SUBPROOF top-down, computing
// the old and new roots from the proof. A proof from size 0 is empty and
// requires the empty tree's root (and, to size 0, equal roots); between equal
// sizes it is empty and requires equal roots.
func refVerifyConsistency(m, n int64, oldRoot, newRoot Hash, proof []Hash) bool {
	switch {
	case m < 0 || m > n:
		return false
	case m == 0:
		empty := Hash(sha256.Sum256(nil))
		return len(proof) == 0 && oldRoot == empty && (n > 0 || newRoot == empty)
	}
	gotOld, gotNew, ok := refSubRoots(m, n, true, oldRoot, proof)
	return ok && gotOld == oldRoot && gotNew == newRoot
}

// refSubRoots returns the hashes of D[0:m] and D[0:n] of the current subtree
// given SUBPROOF(m, D[n], b).
func refSubRoots(m, n int64, b bool, oldRoot Hash, proof []Hash) (old, new Hash, ok bool) {
	if m == n {
		if b {
			return oldRoot, oldRoot, len(proof) == 0
		}
		if len(proof) != 1 {
			return Hash{}, Hash{}, false
		}
		return proof[0], proof[0], true
	}
	if len(proof) == 0 {
		return Hash{}, Hash{}, false
	}
	k := refSplit(n)
	sib, rest := proof[len(proof)-1], proof[:len(proof)-1]
	if m <= k {
		old, new, ok = refSubRoots(m, k, b, oldRoot, rest)
		return old, NodeHash(new, sib), ok
	}
	old, new, ok = refSubRoots(m-k, n-k, false, oldRoot, rest)
	return NodeHash(sib, old), NodeHash(sib, new), ok
}

// refProofLen returns len(PROOF(m, D[n])) for 0 ≤ m ≤ n, 0 if m is 0.
func refProofLen(m, n int64) int {
	if m == 0 {
		return 0
	}
	return refSubproofLen(m, n, true)
}

func refSubproofLen(m, n int64, b bool) int {
	if m == n {
		if b {
			return 0
		}
		return 1
	}
	k := refSplit(n)
	if m <= k {
		return 1 + refSubproofLen(m, k, b)
	}
	return 1 + refSubproofLen(m-k, n-k, false)
}

// testLeaf returns the leaf hash of the test entry i.
func testLeaf(i int64) Hash {
	return LeafHash(fmt.Appendf(nil, "entry %d", i))
}

// testLeaves returns the leaf hashes of the test entries 0 to n−1.
func testLeaves(n int64) []Hash {
	leaves := make([]Hash, n)
	for i := range leaves {
		leaves[i] = testLeaf(int64(i))
	}
	return leaves
}

// memLog is an in-memory log storage: hashes at their storage indexes.
type memLog []Hash

func (l memLog) ReadHashes(indexes []int64) ([]Hash, error) {
	out := make([]Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(l)) {
			return nil, fmt.Errorf("no stored hash at index %d", x)
		}
		out[i] = l[x]
	}
	return out, nil
}

// appendLeaves appends the leaf hashes to the log, which holds n leaves.
func (l *memLog) appendLeaves(tb testing.TB, n int64, leaves ...Hash) {
	tb.Helper()
	for i, leaf := range leaves {
		hs, err := StoredHashes(n+int64(i), leaf, *l)
		if err != nil {
			tb.Fatal(err)
		}
		*l = append(*l, hs...)
	}
}

// buildLog returns a log of the given leaf hashes.
func buildLog(tb testing.TB, leaves []Hash) memLog {
	tb.Helper()
	l := make(memLog, 0, 2*len(leaves))
	l.appendLeaves(tb, 0, leaves...)
	return l
}
