package merkle

import "crypto/sha256"

// DoubleSHA256 returns SHA-256(SHA-256(b)), the hash of Bitcoin txids, block
// headers and block Merkle tree nodes.
func DoubleSHA256(b []byte) Hash {
	first := sha256.Sum256(b)
	return sha256.Sum256(first[:])
}

// blockNode returns the block Merkle tree hash of two children.
func blockNode(left, right Hash) Hash {
	var buf [2 * HashSize]byte
	copy(buf[:], left[:])
	copy(buf[HashSize:], right[:])
	return DoubleSHA256(buf[:])
}

// BlockMerkleRoot returns the Merkle root of a block with the transactions
// txids, in block order: the value of the block header's Merkle root field.
// A block always holds at least its coinbase transaction; for no txids
// BlockMerkleRoot returns the zero Hash.
func BlockMerkleRoot(txids []Hash) Hash {
	if len(txids) == 0 {
		return Hash{}
	}
	level := append([]Hash{}, txids...)
	for len(level) > 1 {
		level = nextBlockLevel(level)
	}
	return level[0]
}

// nextBlockLevel returns the level above level, reusing its storage.
func nextBlockLevel(level []Hash) []Hash {
	if len(level)%2 == 1 {
		level = append(level, level[len(level)-1])
	}
	for i := 0; i < len(level); i += 2 {
		level[i/2] = blockNode(level[i], level[i+1])
	}
	return level[:len(level)/2]
}

// BlockMerkleBranch returns the Merkle branch of transaction index in a block
// with the transactions txids: the sibling of its hash at each level,
// bottom-up. Where a level has no sibling for the hash, the branch holds the
// hash itself, as the tree duplicates it. The branch of a block's only
// transaction is empty.
//
// It panics unless 0 ≤ index < len(txids).
func BlockMerkleBranch(txids []Hash, index int) []Hash {
	if index < 0 || index >= len(txids) {
		panic("merkle: BlockMerkleBranch index out of range")
	}
	var branch []Hash
	level := append([]Hash{}, txids...)
	for len(level) > 1 {
		sibling := index ^ 1
		if sibling >= len(level) {
			sibling = index
		}
		branch = append(branch, level[sibling])
		level = nextBlockLevel(level)
		index >>= 1
	}
	return branch
}

// BlockRootFromBranch returns the block Merkle root that branch leads to from
// the transaction txid at position index (≥ 0) in the block. Bit i of index
// says whether the hash at level i is a right child (1) or a left child (0);
// bits beyond len(branch) are ignored. The caller compares the result with the
// block header's Merkle root.
func BlockRootFromBranch(txid Hash, index int, branch []Hash) Hash {
	h := txid
	for i, sibling := range branch {
		if (index>>i)&1 == 1 {
			h = blockNode(sibling, h)
		} else {
			h = blockNode(h, sibling)
		}
	}
	return h
}

// BlockBranchOps returns the operations that take a txid at position index
// (≥ 0) in a block to the block's Merkle root, given its branch: per level,
// [prepend sibling, sha256, sha256] if the hash is a right child and
// [append sibling, sha256, sha256] if it is a left one. Evaluating them from
// txid gives BlockRootFromBranch(txid, index, branch).
func BlockBranchOps(index int, branch []Hash) []Op {
	ops := make([]Op, 0, 3*len(branch))
	for i, sibling := range branch {
		code := OpAppend
		if (index>>i)&1 == 1 {
			code = OpPrepend
		}
		ops = append(ops,
			Op{Code: code, Arg: append([]byte{}, sibling[:]...)},
			Op{Code: OpSHA256},
			Op{Code: OpSHA256})
	}
	return ops
}
