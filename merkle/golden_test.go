package merkle

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The golden files hold proofs of a test log, valid and attacked, with the
// verdict any implementation must reach: "valid", "mismatch" (well formed but
// not leading to the roots) or "malformed" (index or sizes out of range, or a
// proof of the wrong length). The verdicts come from the reference in
// reference_test.go, not from the code under test.

const goldenLeaves = `leaf i of the test log is the RFC 6962 leaf hash SHA-256(0x00 || "entry <i>"), i in decimal ASCII`

type inclusionFile struct {
	Description string          `json:"description"`
	Leaves      string          `json:"leaves"`
	Cases       []inclusionCase `json:"cases"`
}

type inclusionCase struct {
	Name    string   `json:"name"`
	Index   int64    `json:"index"`
	Size    int64    `json:"size"`
	Leaf    string   `json:"leaf"`
	Root    string   `json:"root"`
	Proof   []string `json:"proof"`
	Verdict string   `json:"verdict"`
}

type consistencyFile struct {
	Description string            `json:"description"`
	Leaves      string            `json:"leaves"`
	Cases       []consistencyCase `json:"cases"`
}

type consistencyCase struct {
	Name    string   `json:"name"`
	OldSize int64    `json:"old_size"`
	NewSize int64    `json:"new_size"`
	OldRoot string   `json:"old_root"`
	NewRoot string   `json:"new_root"`
	Proof   []string `json:"proof"`
	Verdict string   `json:"verdict"`
}

func hexHashes(hs []Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	return out
}

func parseHashes(t *testing.T, ss []string) []Hash {
	t.Helper()
	out := make([]Hash, len(ss))
	for i, s := range ss {
		out[i] = mustParseHash(t, s)
	}
	return out
}

func mustParseHash(t *testing.T, s string) Hash {
	t.Helper()
	h, err := ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// refInclusionVerdict is the reference verdict on an inclusion proof.
func refInclusionVerdict(index, size int64, leaf, root Hash, proof []Hash) string {
	switch {
	case refVerifyInclusion(index, size, leaf, root, proof):
		return "valid"
	case index < 0 || index >= size || len(proof) != refPathLen(index, size):
		return "malformed"
	}
	return "mismatch"
}

// refConsistencyVerdict is the reference verdict on a consistency proof.
func refConsistencyVerdict(oldSize, newSize int64, oldRoot, newRoot Hash, proof []Hash) string {
	switch {
	case refVerifyConsistency(oldSize, newSize, oldRoot, newRoot, proof):
		return "valid"
	case oldSize < 0 || oldSize > newSize || len(proof) != refProofLen(oldSize, newSize):
		return "malformed"
	}
	return "mismatch"
}

// flipLast flips the lowest bit of the last byte of h.
func flipLast(h Hash) Hash { h[HashSize-1] ^= 1; return h }

func genInclusion() (*inclusionFile, error) {
	const N = 40
	leaves := testLeaves(N)
	file := &inclusionFile{
		Description: "RFC 9162 inclusion proofs (audit paths, bottom-up) in the test log, valid and attacked, with the verdict a verifier must reach",
		Leaves:      goldenLeaves,
	}
	add := func(name string, index, size int64, leaf, root Hash, proof []Hash, mayBeValid bool) error {
		v := refInclusionVerdict(index, size, leaf, root, proof)
		if v == "valid" && !mayBeValid {
			return fmt.Errorf("attack %q is accepted", name)
		}
		file.Cases = append(file.Cases, inclusionCase{
			Name: name, Index: index, Size: size,
			Leaf: leaf.String(), Root: root.String(), Proof: hexHashes(proof), Verdict: v,
		})
		return nil
	}
	// A path's shape depends on the size only through the levels where it
	// has siblings: leaf 3 has the same path in trees of 5 to 8 leaves. Such
	// a proof verifies for every size of the same shape, which is why a root
	// is only meaningful with the size it was signed with.
	addSize := func(prefix string, index, size int64, leaf, root Hash, proof []Hash) error {
		if refVerifyInclusion(index, size, leaf, root, proof) {
			return add(prefix+fmt.Sprintf("size %d gives the same path shape: verifies", size), index, size, leaf, root, proof, true)
		}
		return add(prefix+fmt.Sprintf("wrong size (%d)", size), index, size, leaf, root, proof, false)
	}
	bases := []struct{ index, size int64 }{
		{0, 1}, {0, 2}, {1, 2}, {3, 7}, {6, 7}, {0, 8}, {5, 8}, {12, 13}, {21, 33}, {32, 33},
	}
	for _, b := range bases {
		i, n := b.index, b.size
		leaf, root := leaves[i], refRoot(leaves[:n])
		proof := refPath(i, leaves[:n])
		if len(proof) == 0 {
			proof = []Hash{} // encode as [], not null
		}
		prefix := fmt.Sprintf("leaf %d of %d: ", i, n)
		err := add(prefix+"valid", i, n, leaf, root, proof, true)
		errs := []error{err,
			add(prefix+"wrong leaf", i, n, flipLast(leaf), root, proof, false),
			add(prefix+"wrong root", i, n, leaf, flipLast(root), proof, false),
			add(prefix+"index+1", i+1, n, leaf, root, proof, false),
			addSize(prefix, i, n+1, leaf, root, proof),
			add(prefix+"trailing extra hash", i, n, leaf, root, append(slices.Clip(proof), root), false),
		}
		if i+1 < n {
			errs = append(errs, add(prefix+"next leaf at index+1", i+1, n, leaves[i+1], root, proof, false))
		}
		if len(proof) > 0 {
			errs = append(errs,
				add(prefix+"proof too short", i, n, leaf, root, proof[:len(proof)-1], false),
				add(prefix+"flipped bit in the first sibling", i, n, leaf, root,
					append([]Hash{flipLast(proof[0])}, proof[1:]...), false),
				add(prefix+"flipped bit in the last sibling", i, n, leaf, root,
					append(slices.Clone(proof[:len(proof)-1]), flipLast(proof[len(proof)-1])), false))
		}
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
	}
	return file, nil
}

func genConsistency() (*consistencyFile, error) {
	const N = 40
	leaves := testLeaves(N)
	file := &consistencyFile{
		Description: "RFC 9162 consistency proofs between sizes of the test log, valid and attacked, with the verdict a verifier must reach; " +
			"from size 0 the proof is empty and the old root must be SHA-256 of no bytes; between equal sizes it is empty and the roots must be equal",
		Leaves: goldenLeaves,
	}
	add := func(name string, m, n int64, oldRoot, newRoot Hash, proof []Hash, mayBeValid bool) error {
		v := refConsistencyVerdict(m, n, oldRoot, newRoot, proof)
		if v == "valid" && !mayBeValid {
			return fmt.Errorf("attack %q is accepted", name)
		}
		file.Cases = append(file.Cases, consistencyCase{
			Name: name, OldSize: m, NewSize: n,
			OldRoot: oldRoot.String(), NewRoot: newRoot.String(), Proof: hexHashes(proof), Verdict: v,
		})
		return nil
	}
	// As for inclusion proofs, a proof also verifies for new sizes that give
	// it the same shape.
	addSize := func(prefix string, m, n int64, oldRoot, newRoot Hash, proof []Hash) error {
		if refVerifyConsistency(m, n, oldRoot, newRoot, proof) {
			return add(prefix+fmt.Sprintf("new size %d gives the same proof shape: verifies", n), m, n, oldRoot, newRoot, proof, true)
		}
		return add(prefix+fmt.Sprintf("wrong new size (%d)", n), m, n, oldRoot, newRoot, proof, false)
	}
	bases := []struct{ old, new int64 }{
		{0, 5}, {4, 4}, {1, 2}, {1, 8}, {4, 8}, {3, 7}, {7, 8}, {5, 13}, {6, 33}, {32, 33},
	}
	for _, b := range bases {
		m, n := b.old, b.new
		oldRoot, newRoot := refRoot(leaves[:m]), refRoot(leaves[:n])
		proof := []Hash{}
		if m > 0 {
			proof = append(proof, refProof(m, leaves[:n])...)
		}
		prefix := fmt.Sprintf("sizes %d to %d: ", m, n)
		errs := []error{
			add(prefix+"valid", m, n, oldRoot, newRoot, proof, true),
			add(prefix+"wrong old root", m, n, flipLast(oldRoot), newRoot, proof, false),
			add(prefix+"wrong old size (old size+1)", m+1, n, oldRoot, newRoot, proof, false),
			add(prefix+"trailing extra hash", m, n, oldRoot, newRoot, append(slices.Clip(proof), newRoot), false),
		}
		if m == 0 {
			errs = append(errs, add(prefix+"any new root extends the empty tree", m, n, oldRoot, flipLast(newRoot), proof, true))
		} else {
			errs = append(errs,
				add(prefix+"wrong new root", m, n, oldRoot, flipLast(newRoot), proof, false),
				addSize(prefix, m, n+1, oldRoot, newRoot, proof))
		}
		if m != n {
			errs = append(errs, add(prefix+"roots swapped", m, n, newRoot, oldRoot, proof, false))
		}
		if len(proof) > 0 {
			errs = append(errs,
				add(prefix+"proof too short", m, n, oldRoot, newRoot, proof[:len(proof)-1], false),
				add(prefix+"flipped bit in the first hash", m, n, oldRoot, newRoot,
					append([]Hash{flipLast(proof[0])}, proof[1:]...), false),
				add(prefix+"flipped bit in the last hash", m, n, oldRoot, newRoot,
					append(slices.Clone(proof[:len(proof)-1]), flipLast(proof[len(proof)-1])), false))
		}
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
	}
	return file, nil
}

func marshalGolden(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// checkGolden regenerates a golden file with gen, writes it under -update,
// and fails if the stored file is missing or differs from the generated one.
func checkGolden(t *testing.T, name string, gen func() (any, error)) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	v, err := gen()
	if err != nil {
		t.Fatalf("generating %s: %v", path, err)
	}
	want, err := marshalGolden(v)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./merkle -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run go test ./merkle -run TestGolden -update", path)
	}
	return got
}

func TestGolden(t *testing.T) {
	t.Run("inclusion_proofs.json", func(t *testing.T) {
		data := checkGolden(t, "inclusion_proofs.json", func() (any, error) { return genInclusion() })
		var file inclusionFile
		if err := json.Unmarshal(data, &file); err != nil {
			t.Fatal(err)
		}
		if len(file.Cases) == 0 {
			t.Fatal("no cases")
		}
		for _, c := range file.Cases {
			t.Run(c.Name, func(t *testing.T) {
				leaf, root, proof := mustParseHash(t, c.Leaf), mustParseHash(t, c.Root), parseHashes(t, c.Proof)
				if v := refInclusionVerdict(c.Index, c.Size, leaf, root, proof); v != c.Verdict {
					t.Errorf("reference verdict %s, file says %s", v, c.Verdict)
				}
				err := VerifyInclusion(c.Index, c.Size, leaf, root, proof)
				if v := verdict(err); v != c.Verdict {
					t.Errorf("VerifyInclusion = %v (%s), want %s", err, v, c.Verdict)
				}
			})
		}
	})
	t.Run("consistency_proofs.json", func(t *testing.T) {
		data := checkGolden(t, "consistency_proofs.json", func() (any, error) { return genConsistency() })
		var file consistencyFile
		if err := json.Unmarshal(data, &file); err != nil {
			t.Fatal(err)
		}
		if len(file.Cases) == 0 {
			t.Fatal("no cases")
		}
		for _, c := range file.Cases {
			t.Run(c.Name, func(t *testing.T) {
				oldRoot, newRoot, proof := mustParseHash(t, c.OldRoot), mustParseHash(t, c.NewRoot), parseHashes(t, c.Proof)
				if v := refConsistencyVerdict(c.OldSize, c.NewSize, oldRoot, newRoot, proof); v != c.Verdict {
					t.Errorf("reference verdict %s, file says %s", v, c.Verdict)
				}
				err := VerifyConsistency(c.OldSize, c.NewSize, oldRoot, newRoot, proof)
				if v := verdict(err); v != c.Verdict {
					t.Errorf("VerifyConsistency = %v (%s), want %s", err, v, c.Verdict)
				}
			})
		}
	})
}
