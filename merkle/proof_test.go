package merkle

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// refN is the largest tree size compared exhaustively with the reference.
const refN = 130

// TestInclusionProof compares InclusionProof with the reference for every
// leaf of every tree size up to refN, and checks that VerifyInclusion and
// InclusionOps accept the proof.
func TestInclusionProof(t *testing.T) {
	leaves := testLeaves(refN)
	log := buildLog(t, leaves)
	for n := int64(1); n <= refN; n++ {
		t.Run(fmt.Sprintf("size=%d", n), func(t *testing.T) {
			r := log[:StoredHashCount(n)]
			root := refRoot(leaves[:n])
			for i := int64(0); i < n; i++ {
				proof, err := InclusionProof(i, n, r)
				if err != nil {
					t.Fatalf("InclusionProof(%d, %d): %v", i, n, err)
				}
				if want := refPath(i, leaves[:n]); !slices.Equal(proof, want) {
					t.Fatalf("InclusionProof(%d, %d) = %v, want %v", i, n, proof, want)
				}
				if err := VerifyInclusion(i, n, leaves[i], root, proof); err != nil {
					t.Errorf("VerifyInclusion(%d, %d): %v", i, n, err)
				}
				ops, err := InclusionOps(i, n, proof)
				if err != nil {
					t.Fatalf("InclusionOps(%d, %d): %v", i, n, err)
				}
				got, err := Evaluate(leaves[i][:], ops)
				if err != nil || !bytes.Equal(got, root[:]) {
					t.Errorf("Evaluate(leaf %d, InclusionOps(%d, %d)) = %x, %v, want %v", i, i, n, got, err, root)
				}
			}
		})
	}
}

// TestConsistencyProof compares ConsistencyProof with the reference for every
// pair of tree sizes up to refN, and checks that VerifyConsistency accepts it.
func TestConsistencyProof(t *testing.T) {
	leaves := testLeaves(refN)
	log := buildLog(t, leaves)
	roots := make([]Hash, refN+1)
	for n := range roots {
		roots[n] = refRoot(leaves[:n])
	}
	for n := int64(1); n <= refN; n++ {
		t.Run(fmt.Sprintf("new=%d", n), func(t *testing.T) {
			r := log[:StoredHashCount(n)]
			for m := int64(0); m <= n; m++ {
				proof, err := ConsistencyProof(m, n, r)
				if err != nil {
					t.Fatalf("ConsistencyProof(%d, %d): %v", m, n, err)
				}
				var want []Hash
				if m > 0 {
					want = refProof(m, leaves[:n])
				}
				if !slices.Equal(proof, want) {
					t.Fatalf("ConsistencyProof(%d, %d) = %v, want %v", m, n, proof, want)
				}
				if err := VerifyConsistency(m, n, roots[m], roots[n], proof); err != nil {
					t.Errorf("VerifyConsistency(%d, %d): %v", m, n, err)
				}
			}
		})
	}
}

// verdict classifies a verification error: "valid", "mismatch" or "malformed".
func verdict(err error) string {
	switch {
	case err == nil:
		return "valid"
	case errors.Is(err, ErrMismatch):
		return "mismatch"
	}
	return "malformed"
}

func flip(h Hash) Hash { h[0] ^= 1; return h }

// TestVerifyInclusionRejects checks that VerifyInclusion rejects every
// tampered proof of every leaf of every tree size up to 40, with the reference
// and the right kind of error.
func TestVerifyInclusionRejects(t *testing.T) {
	const N = 40
	leaves := testLeaves(N + 1)
	for n := int64(1); n <= N; n++ {
		root := refRoot(leaves[:n])
		for i := int64(0); i < n; i++ {
			proof := refPath(i, leaves[:n])
			type attack struct {
				name        string
				index, size int64
				leaf, root  Hash
				proof       []Hash
			}
			attacks := []attack{
				{"wrong leaf", i, n, flip(leaves[i]), root, proof},
				{"wrong root", i, n, leaves[i], flip(root), proof},
				{"index+1", i + 1, n, leaves[i], root, proof},
				{"index-1", i - 1, n, leaves[i], root, proof},
				{"size+1", i, n + 1, leaves[i], root, proof},
				{"size-1", i, n - 1, leaves[i], root, proof},
				{"trailing extra hash", i, n, leaves[i], root, append(slices.Clip(proof), root)},
				{"leaf as root", i, n, root, root, proof},
			}
			if len(proof) > 0 {
				attacks = append(attacks,
					attack{"proof too short", i, n, leaves[i], root, proof[:len(proof)-1]},
					attack{"empty proof", i, n, leaves[i], root, nil},
					attack{"root as leaf with no proof", 0, 1, root, root, nil})
				for j := range proof {
					p := slices.Clone(proof)
					p[j] = flip(p[j])
					attacks = append(attacks, attack{fmt.Sprintf("flipped bit in sibling %d", j), i, n, leaves[i], root, p})
				}
			}
			if len(proof) > 1 {
				p := slices.Clone(proof)
				p[0], p[1] = p[1], p[0]
				attacks = append(attacks, attack{"siblings swapped", i, n, leaves[i], root, p})
			}
			for _, a := range attacks {
				err := VerifyInclusion(a.index, a.size, a.leaf, a.root, a.proof)
				want := "malformed"
				if a.index >= 0 && a.index < a.size && len(a.proof) == refPathLen(a.index, a.size) {
					want = "mismatch"
				}
				if refVerifyInclusion(a.index, a.size, a.leaf, a.root, a.proof) {
					want = "valid"
				}
				if got := verdict(err); got != want {
					t.Errorf("leaf %d of %d, %s: VerifyInclusion = %v (%s), want %s", i, n, a.name, err, got, want)
				}
			}
		}
	}
}

// TestVerifyConsistencyRejects does the same for consistency proofs between
// every pair of tree sizes up to 40.
func TestVerifyConsistencyRejects(t *testing.T) {
	const N = 40
	leaves := testLeaves(N + 1)
	roots := make([]Hash, N+2)
	for n := range roots {
		roots[n] = refRoot(leaves[:n])
	}
	for n := int64(0); n <= N; n++ {
		for m := int64(0); m <= n; m++ {
			var proof []Hash
			if m > 0 {
				proof = refProof(m, leaves[:n])
			}
			type attack struct {
				name             string
				old, new         int64
				oldRoot, newRoot Hash
				proof            []Hash
			}
			attacks := []attack{
				{"wrong old root", m, n, flip(roots[m]), roots[n], proof},
				{"wrong new root", m, n, roots[m], flip(roots[n]), proof},
				{"roots swapped", m, n, roots[n], roots[m], proof},
				{"old size+1", m + 1, n, roots[m], roots[n], proof},
				{"old size-1", m - 1, n, roots[m], roots[n], proof},
				{"new size+1", m, n + 1, roots[m], roots[n], proof},
				{"new size-1", m, n - 1, roots[m], roots[n], proof},
				{"trailing extra hash", m, n, roots[m], roots[n], append(slices.Clip(proof), roots[n])},
				{"old root in front", m, n, roots[m], roots[n], append([]Hash{roots[m]}, proof...)},
			}
			if len(proof) > 0 {
				attacks = append(attacks,
					attack{"proof too short", m, n, roots[m], roots[n], proof[:len(proof)-1]},
					attack{"empty proof", m, n, roots[m], roots[n], nil})
				for j := range proof {
					p := slices.Clone(proof)
					p[j] = flip(p[j])
					attacks = append(attacks, attack{fmt.Sprintf("flipped bit in hash %d", j), m, n, roots[m], roots[n], p})
				}
			}
			for _, a := range attacks {
				err := VerifyConsistency(a.old, a.new, a.oldRoot, a.newRoot, a.proof)
				want := "malformed"
				if a.old >= 0 && a.old <= a.new && len(a.proof) == refProofLen(a.old, a.new) {
					want = "mismatch"
				}
				if refVerifyConsistency(a.old, a.new, a.oldRoot, a.newRoot, a.proof) {
					want = "valid"
				}
				if got := verdict(err); got != want {
					t.Errorf("sizes %d to %d, %s: VerifyConsistency = %v (%s), want %s", m, n, a.name, err, got, want)
				}
			}
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	var h Hash
	tests := []struct {
		name string
		err  error
	}{
		{"inclusion, negative index", VerifyInclusion(-1, 4, h, h, make([]Hash, 2))},
		{"inclusion, index equals size", VerifyInclusion(4, 4, h, h, make([]Hash, 2))},
		{"inclusion, empty tree", VerifyInclusion(0, 0, h, h, nil)},
		{"inclusion, negative size", VerifyInclusion(0, -4, h, h, nil)},
		{"inclusion, proof too long", VerifyInclusion(0, 4, h, h, make([]Hash, 3))},
		{"inclusion, proof too short", VerifyInclusion(0, 4, h, h, make([]Hash, 1))},
		{"inclusion, largest size", VerifyInclusion(0, 1<<63-1, h, h, make([]Hash, 64))},
		{"consistency, negative old size", VerifyConsistency(-1, 4, h, h, nil)},
		{"consistency, old above new", VerifyConsistency(5, 4, h, h, nil)},
		{"consistency, from 0 with a hash", VerifyConsistency(0, 4, emptyRoot, h, make([]Hash, 1))},
		{"consistency, equal sizes with a hash", VerifyConsistency(4, 4, h, h, make([]Hash, 1))},
		{"consistency, proof too long", VerifyConsistency(4, 8, h, h, make([]Hash, 2))},
		{"consistency, proof too short", VerifyConsistency(3, 8, h, h, make([]Hash, 2))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verdict(tt.err); got != "malformed" {
				t.Errorf("got %v (%s), want a malformed-input error", tt.err, got)
			}
		})
	}
}

func TestVerifyLargeSizes(t *testing.T) {
	// Sizes beyond anything storable still verify by arithmetic alone.
	const size = 1<<63 - 1
	leaf := testLeaf(0)
	proof := make([]Hash, 63)
	for i := range proof {
		proof[i] = testLeaf(int64(i + 1))
	}
	root := leaf
	for _, p := range proof {
		root = NodeHash(root, p)
	}
	if err := VerifyInclusion(0, size, leaf, root, proof); err != nil {
		t.Errorf("VerifyInclusion(0, 2^63-1): %v", err)
	}
	if !refVerifyInclusion(0, size, leaf, root, proof) {
		t.Errorf("reference rejects the proof of leaf 0 of 2^63-1")
	}
	if err := VerifyInclusion(size-1, size, leaf, root, proof); verdict(err) == "valid" {
		t.Errorf("VerifyInclusion(2^63-2, 2^63-1) accepted the proof of leaf 0")
	}
}

func TestErrorMessages(t *testing.T) {
	var h Hash
	errs := []error{
		VerifyInclusion(0, 4, h, h, make([]Hash, 2)),
		VerifyInclusion(0, 4, h, h, nil),
		VerifyConsistency(1, 4, h, h, make([]Hash, 2)),
		VerifyConsistency(5, 4, h, h, nil),
		ErrMismatch,
	}
	for _, err := range errs {
		if msg := err.Error(); !bytes.HasPrefix([]byte(msg), []byte("merkle: ")) {
			t.Errorf("error %q lacks the package prefix", msg)
		}
	}
}

func TestVerifyConsistencyEmpty(t *testing.T) {
	other := testLeaf(0)
	tests := []struct {
		name             string
		old, new         int64
		oldRoot, newRoot Hash
		want             string
	}{
		{"empty to empty", 0, 0, emptyRoot, emptyRoot, "valid"},
		{"empty to empty, other new root", 0, 0, emptyRoot, other, "mismatch"},
		{"empty to empty, other old root", 0, 0, other, emptyRoot, "mismatch"},
		{"empty to 1", 0, 1, emptyRoot, other, "valid"},
		{"empty to 1, other old root", 0, 1, other, other, "mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyConsistency(tt.old, tt.new, tt.oldRoot, tt.newRoot, nil)
			if got := verdict(err); got != tt.want {
				t.Errorf("VerifyConsistency = %v (%s), want %s", err, got, tt.want)
			}
			if ref := refConsistencyVerdict(tt.old, tt.new, tt.oldRoot, tt.newRoot, nil); ref != tt.want {
				t.Errorf("reference verdict %s, want %s", ref, tt.want)
			}
		})
	}
}
