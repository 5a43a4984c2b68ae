package merkle_test

import (
	"errors"
	"fmt"

	"github.com/notary-dev/notary/merkle"
)

// appendEntries appends entries to a log kept in memory as its stored hashes.
func appendEntries(log merkleStore, entries ...string) merkleStore {
	n := int64(0)
	for merkle.StoredHashCount(n) < int64(len(log)) {
		n++
	}
	for _, e := range entries {
		hs, err := merkle.StoredHashes(n, merkle.LeafHash([]byte(e)), log)
		if err != nil {
			panic(err)
		}
		log = append(log, hs...)
		n++
	}
	return log
}

func ExampleStoredHashes() {
	var log merkleStore // storage index → hash
	for n, entry := range []string{"a", "b", "c", "d"} {
		hs, err := merkle.StoredHashes(int64(n), merkle.LeafHash([]byte(entry)), log)
		if err != nil {
			panic(err)
		}
		fmt.Printf("leaf %d: %d hashes at index %d\n", n, len(hs), merkle.StoredHashCount(int64(n)))
		log = append(log, hs...)
	}
	fmt.Println("stored:", len(log), "=", merkle.StoredHashCount(4))
	fmt.Println("root of leaves 0-3 at index", merkle.StoredHashIndex(2, 0))
	// Output:
	// leaf 0: 1 hashes at index 0
	// leaf 1: 2 hashes at index 1
	// leaf 2: 1 hashes at index 3
	// leaf 3: 3 hashes at index 4
	// stored: 7 = 7
	// root of leaves 0-3 at index 6
}

func ExampleInclusionProof() {
	log := appendEntries(nil, "a", "b", "c", "d", "e")
	root, err := merkle.TreeHash(5, log)
	if err != nil {
		panic(err)
	}
	proof, err := merkle.InclusionProof(2, 5, log)
	if err != nil {
		panic(err)
	}
	fmt.Println("proof of leaf 2 in 5:", len(proof), "hashes")

	// The verifier needs only the entry, its index, the size and the root.
	leaf := merkle.LeafHash([]byte("c"))
	fmt.Println("c:", merkle.VerifyInclusion(2, 5, leaf, root, proof))
	err = merkle.VerifyInclusion(2, 5, merkle.LeafHash([]byte("x")), root, proof)
	fmt.Println("x:", errors.Is(err, merkle.ErrMismatch))
	// Output:
	// proof of leaf 2 in 5: 3 hashes
	// c: <nil>
	// x: true
}

func ExampleVerifyConsistency() {
	log := appendEntries(nil, "a", "b", "c")
	oldRoot, _ := merkle.TreeHash(3, log)
	log = appendEntries(log, "d", "e", "f", "g")
	newRoot, _ := merkle.TreeHash(7, log)

	proof, err := merkle.ConsistencyProof(3, 7, log)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(proof), "hashes:", merkle.VerifyConsistency(3, 7, oldRoot, newRoot, proof))
	// A forked log, where entry 1 was rewritten, fails.
	forked, _ := merkle.TreeHash(3, appendEntries(nil, "a", "B", "c"))
	fmt.Println(merkle.VerifyConsistency(3, 7, forked, newRoot, proof))
	// Output:
	// 4 hashes: <nil>
	// merkle: proof does not match root: consistency proof between tree sizes 3 and 7 does not lead to the old root
}

func ExampleInclusionOps() {
	log := appendEntries(nil, "a", "b", "c")
	root, _ := merkle.TreeHash(3, log)
	proof, _ := merkle.InclusionProof(2, 3, log)

	ops, err := merkle.InclusionOps(2, 3, proof)
	if err != nil {
		panic(err)
	}
	for _, op := range ops {
		fmt.Printf("%.20s\n", op)
	}
	leaf := merkle.LeafHash([]byte("c"))
	got, _ := merkle.Evaluate(leaf[:], ops)
	fmt.Println(merkle.Hash(got) == root)
	// Output:
	// prepend 01b137985ff4
	// sha256
	// true
}

func ExampleEvaluate() {
	// The RFC 6962 leaf hash of "abc", as operations.
	ops := []merkle.Op{
		{Code: merkle.OpPrepend, Arg: []byte{0x00}},
		{Code: merkle.OpSHA256},
	}
	got, err := merkle.Evaluate([]byte("abc"), ops)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%x\n", got)
	fmt.Println(merkle.LeafHash([]byte("abc")))
	_, err = merkle.Evaluate([]byte("abc"), []merkle.Op{{Code: 0x02}})
	fmt.Println(err)
	// Output:
	// 609f6e36d2405585188d5cfd761f407c7cc46a7d3f314c88270469dde315fcd1
	// 609f6e36d2405585188d5cfd761f407c7cc46a7d3f314c88270469dde315fcd1
	// merkle: op 0: unknown op code 0x02
}

func ExampleBlockMerkleBranch() {
	// Three transactions: the last one is paired with itself.
	txids := []merkle.Hash{
		merkle.DoubleSHA256([]byte("coinbase")),
		merkle.DoubleSHA256([]byte("tx 1")),
		merkle.DoubleSHA256([]byte("anchor")),
	}
	root := merkle.BlockMerkleRoot(txids)
	branch := merkle.BlockMerkleBranch(txids, 2)
	fmt.Println(len(branch), "hashes, first is the tx itself:", branch[0] == txids[2])
	fmt.Println(merkle.BlockRootFromBranch(txids[2], 2, branch) == root)

	got, _ := merkle.Evaluate(txids[2][:], merkle.BlockBranchOps(2, branch))
	fmt.Println(merkle.Hash(got) == root)
	// Output:
	// 2 hashes, first is the tx itself: true
	// true
	// true
}
