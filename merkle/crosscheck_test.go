package merkle_test

// Cross-checks against independent implementations: golang.org/x/mod's
// transparency log and btcd's block Merkle tree.

import (
	"fmt"
	"slices"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/notary-dev/notary/merkle"
)

// tlogStore is a golang.org/x/mod/sumdb/tlog storage.
type tlogStore []tlog.Hash

func (s tlogStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x >= int64(len(s)) {
			return nil, fmt.Errorf("no stored hash at index %d", x)
		}
		out[i] = s[x]
	}
	return out, nil
}

// merkleStore is a merkle storage.
type merkleStore []merkle.Hash

func (s merkleStore) ReadHashes(indexes []int64) ([]merkle.Hash, error) {
	out := make([]merkle.Hash, len(indexes))
	for i, x := range indexes {
		if x >= int64(len(s)) {
			return nil, fmt.Errorf("no stored hash at index %d", x)
		}
		out[i] = s[x]
	}
	return out, nil
}

func toTlog(hs []merkle.Hash) []tlog.Hash {
	out := make([]tlog.Hash, len(hs))
	for i, h := range hs {
		out[i] = tlog.Hash(h)
	}
	return out
}

func fromTlog(hs []tlog.Hash) []merkle.Hash {
	out := make([]merkle.Hash, len(hs))
	for i, h := range hs {
		out[i] = merkle.Hash(h)
	}
	return out
}

// TestTlog builds the same log with both packages and checks that the storage
// layouts, tree hashes and proofs agree exactly, and that each package accepts
// the other's proofs.
func TestTlog(t *testing.T) {
	const N = 130
	var ours merkleStore
	var theirs tlogStore
	for n := int64(0); n < N; n++ {
		data := fmt.Appendf(nil, "entry %d", n)
		leaf := merkle.LeafHash(data)
		if tlog.RecordHash(data) != tlog.Hash(leaf) {
			t.Fatalf("leaf %d: LeafHash differs from tlog.RecordHash", n)
		}
		hs, err := merkle.StoredHashes(n, leaf, ours)
		if err != nil {
			t.Fatal(err)
		}
		ths, err := tlog.StoredHashes(n, data, theirs)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(toTlog(hs), ths) {
			t.Fatalf("StoredHashes(%d) = %v, tlog says %v", n, hs, ths)
		}
		ours, theirs = append(ours, hs...), append(theirs, ths...)
	}

	t.Run("StoredHashIndex", func(t *testing.T) {
		for level := 0; level < 20; level++ {
			for n := range int64(300) {
				if got, want := merkle.StoredHashIndex(level, n), tlog.StoredHashIndex(level, n); got != want {
					t.Errorf("StoredHashIndex(%d, %d) = %d, tlog says %d", level, n, got, want)
				}
			}
		}
		for _, n := range []int64{1 << 30, 1<<40 + 12345, 1<<61 - 1} {
			if got, want := merkle.StoredHashIndex(0, n), tlog.StoredHashIndex(0, n); got != want {
				t.Errorf("StoredHashIndex(0, %d) = %d, tlog says %d", n, got, want)
			}
		}
	})
	t.Run("StoredHashCount", func(t *testing.T) {
		sizes := []int64{1<<40 + 12345, 1 << 61}
		for n := range int64(1000) {
			sizes = append(sizes, n)
		}
		for _, n := range sizes {
			if got, want := merkle.StoredHashCount(n), tlog.StoredHashCount(n); got != want {
				t.Errorf("StoredHashCount(%d) = %d, tlog says %d", n, got, want)
			}
		}
	})

	roots := make([]merkle.Hash, N+1)
	for n := int64(0); n <= N; n++ {
		got, err := merkle.TreeHash(n, ours)
		if err != nil {
			t.Fatal(err)
		}
		want, err := tlog.TreeHash(n, theirs)
		if err != nil {
			t.Fatal(err)
		}
		if tlog.Hash(got) != want {
			t.Fatalf("TreeHash(%d) = %v, tlog says %v", n, got, want)
		}
		roots[n] = got
	}

	t.Run("inclusion", func(t *testing.T) {
		for n := int64(1); n <= N; n++ {
			for i := range n {
				leaf := ours[merkle.StoredHashIndex(0, i)]
				proof, err := merkle.InclusionProof(i, n, ours)
				if err != nil {
					t.Fatal(err)
				}
				tproof, err := tlog.ProveRecord(n, i, theirs)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(toTlog(proof), tproof) {
					t.Fatalf("InclusionProof(%d, %d) = %v, tlog.ProveRecord says %v", i, n, proof, tproof)
				}
				if err := tlog.CheckRecord(toTlog(proof), n, tlog.Hash(roots[n]), i, tlog.Hash(leaf)); err != nil {
					t.Errorf("tlog.CheckRecord rejects InclusionProof(%d, %d): %v", i, n, err)
				}
				if err := merkle.VerifyInclusion(i, n, leaf, roots[n], fromTlog(tproof)); err != nil {
					t.Errorf("VerifyInclusion rejects tlog.ProveRecord(%d, %d): %v", n, i, err)
				}
			}
		}
	})

	t.Run("consistency", func(t *testing.T) {
		for n := int64(1); n <= N; n++ {
			for m := int64(1); m <= n; m++ {
				proof, err := merkle.ConsistencyProof(m, n, ours)
				if err != nil {
					t.Fatal(err)
				}
				tproof, err := tlog.ProveTree(n, m, theirs)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(toTlog(proof), tproof) {
					t.Fatalf("ConsistencyProof(%d, %d) = %v, tlog.ProveTree says %v", m, n, proof, tproof)
				}
				if err := tlog.CheckTree(toTlog(proof), n, tlog.Hash(roots[n]), m, tlog.Hash(roots[m])); err != nil {
					t.Errorf("tlog.CheckTree rejects ConsistencyProof(%d, %d): %v", m, n, err)
				}
				if err := merkle.VerifyConsistency(m, n, roots[m], roots[n], fromTlog(tproof)); err != nil {
					t.Errorf("VerifyConsistency rejects tlog.ProveTree(%d, %d): %v", n, m, err)
				}
			}
		}
	})
}

// btcdBlock returns n distinct transactions as btcd sees them, and their txids.
func btcdBlock(n int) ([]*btcutil.Tx, []merkle.Hash) {
	txs := make([]*btcutil.Tx, n)
	txids := make([]merkle.Hash, n)
	for i := range txs {
		msg := wire.NewMsgTx(wire.TxVersion)
		msg.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: uint32(i)}, []byte{byte(i)}, nil))
		msg.AddTxOut(wire.NewTxOut(int64(i)*1000, []byte{0x6a, 0x01, byte(i)}))
		msg.LockTime = uint32(i)
		txs[i] = btcutil.NewTx(msg)
		txids[i] = merkle.Hash(*txs[i].Hash())
	}
	return txs, txids
}

// TestBtcdBlockMerkle checks the block Merkle root and every branch of blocks
// of 1 to 40 transactions against btcd's blockchain package.
func TestBtcdBlockMerkle(t *testing.T) {
	for n := 1; n <= 40; n++ {
		t.Run(fmt.Sprintf("txs=%d", n), func(t *testing.T) {
			txs, txids := btcdBlock(n)
			root := merkle.BlockMerkleRoot(txids)
			if want := blockchain.CalcMerkleRoot(txs, false); root != merkle.Hash(want) {
				t.Fatalf("BlockMerkleRoot = %v, btcd CalcMerkleRoot says %v", root, want)
			}
			// btcd's tree store: the leaves padded to a power of two, then
			// each level; nil where a level has no node.
			store := blockchain.BuildMerkleTreeStore(txs, false)
			if got := merkle.Hash(*store[len(store)-1]); got != root {
				t.Fatalf("btcd BuildMerkleTreeStore root = %v, CalcMerkleRoot says %v", got, root)
			}
			for i := range n {
				var want []merkle.Hash
				for offset, width, x := 0, (len(store)+1)/2, i; width > 1; offset, width, x = offset+width, width/2, x/2 {
					sibling := store[offset+(x^1)]
					if sibling == nil {
						sibling = store[offset+x]
					}
					want = append(want, merkle.Hash(*sibling))
				}
				branch := merkle.BlockMerkleBranch(txids, i)
				if !slices.Equal(branch, want) {
					t.Fatalf("BlockMerkleBranch(%d) = %v, from btcd's tree %v", i, branch, want)
				}
				if got := merkle.BlockRootFromBranch(txids[i], i, branch); got != root {
					t.Errorf("BlockRootFromBranch(tx %d) = %v, want %v", i, got, root)
				}
			}
		})
	}
}
