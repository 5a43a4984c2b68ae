package service

import (
	"testing"

	"github.com/notary-dev/notary/merkle"
)

// memHashes is stored hashes in memory.
type memHashes []merkle.Hash

func (m memHashes) ReadHashes(indexes []int64) ([]merkle.Hash, error) {
	out := make([]merkle.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = m[x]
	}
	return out, nil
}

// TestRightEdge checks that the sequencer's right edge gives exactly the hashes that
// merkle.StoredHashes gives, leaf after leaf, and that it loads from storage at any size.
func TestRightEdge(t *testing.T) {
	var (
		stored memHashes
		edge   rightEdge
	)
	for n := range int64(2100) {
		leaf := merkle.LeafHash([]byte{byte(n), byte(n >> 8), 7})
		want, err := merkle.StoredHashes(n, leaf, stored)
		if err != nil {
			t.Fatal(err)
		}
		got := edge.append(leaf, nil)
		if len(got) != len(want) {
			t.Fatalf("leaf %d: %d hashes, want %d", n, len(got), len(want))
		}
		for k := range want {
			if got[k] != want[k] {
				t.Fatalf("leaf %d: hash %d differs", n, k)
			}
		}
		stored = append(stored, want...)
		loaded, err := loadRightEdge(n+1, stored)
		if err != nil {
			t.Fatal(err)
		}
		levels, _ := edgeIndexes(n + 1)
		for _, l := range levels {
			if loaded.h[l] != edge.h[l] {
				t.Fatalf("size %d: loaded edge differs at level %d", n+1, l)
			}
		}
		if loaded.n != edge.n {
			t.Fatalf("size %d: loaded edge has size %d", n+1, loaded.n)
		}
	}
}
