package merkle

import (
	"bytes"
	"encoding/hex"
	"slices"
	"testing"
)

// displayHash parses a hash as block explorers print it: byte-reversed.
func displayHash(t *testing.T, s string) Hash {
	t.Helper()
	h, err := ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(h[:])
	return h
}

func TestDoubleSHA256(t *testing.T) {
	// The mainnet genesis block header hashes to the genesis block hash.
	header, _ := hex.DecodeString("0100000000000000000000000000000000000000000000000000000000000000" +
		"000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa" +
		"4b1e5e4a29ab5f49ffff001d1dac2b7c")
	want := displayHash(t, "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")
	if got := DoubleSHA256(header); got != want {
		t.Errorf("DoubleSHA256(genesis header) = %v, want %v", got, want)
	}
}

func TestBlockMerkleMainnet(t *testing.T) {
	// Block 100000 of Bitcoin mainnet: four transactions.
	txids := []Hash{
		displayHash(t, "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87"),
		displayHash(t, "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4"),
		displayHash(t, "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4"),
		displayHash(t, "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d"),
	}
	root := displayHash(t, "f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766")
	if got := BlockMerkleRoot(txids); got != root {
		t.Fatalf("BlockMerkleRoot(block 100000) = %v, want %v", got, root)
	}
	for i, txid := range txids {
		branch := BlockMerkleBranch(txids, i)
		if got := BlockRootFromBranch(txid, i, branch); got != root {
			t.Errorf("tx %d: BlockRootFromBranch = %v, want %v", i, got, root)
		}
	}
}

func TestBlockMerkle(t *testing.T) {
	// The root of a single transaction is its txid, with an empty branch.
	txids := []Hash{DoubleSHA256([]byte("coinbase"))}
	if got := BlockMerkleRoot(txids); got != txids[0] {
		t.Errorf("BlockMerkleRoot of one tx = %v, want its txid", got)
	}
	if b := BlockMerkleBranch(txids, 0); len(b) != 0 {
		t.Errorf("BlockMerkleBranch of one tx = %v, want empty", b)
	}
	if got := BlockMerkleRoot(nil); got != (Hash{}) {
		t.Errorf("BlockMerkleRoot(nil) = %v, want zero", got)
	}
	// For every block size and position, the branch leads to the root, both
	// directly and through its operations, and the input is left alone.
	for n := 1; n <= 40; n++ {
		txids := make([]Hash, n)
		for i := range txids {
			txids[i] = DoubleSHA256([]byte{byte(i)})
		}
		orig := slices.Clone(txids)
		root := BlockMerkleRoot(txids)
		for i := range txids {
			branch := BlockMerkleBranch(txids, i)
			if got := BlockRootFromBranch(txids[i], i, branch); got != root {
				t.Errorf("%d txs, tx %d: BlockRootFromBranch = %v, want %v", n, i, got, root)
			}
			got, err := Evaluate(txids[i][:], BlockBranchOps(i, branch))
			if err != nil || !bytes.Equal(got, root[:]) {
				t.Errorf("%d txs, tx %d: Evaluate(BlockBranchOps) = %x, %v, want %v", n, i, got, err, root)
			}
			if len(branch) > 0 && BlockRootFromBranch(txids[i], i^1, branch) == root && branch[0] != txids[i] {
				t.Errorf("%d txs, tx %d: the branch also proves position %d", n, i, i^1)
			}
		}
		if !slices.Equal(txids, orig) {
			t.Fatalf("%d txs: the txids were modified", n)
		}
	}
}

func TestBlockMerkleBranchPanics(t *testing.T) {
	for _, index := range []int{-1, 3} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("BlockMerkleBranch(3 txids, %d) did not panic", index)
				}
			}()
			BlockMerkleBranch(make([]Hash, 3), index)
		}()
	}
}
