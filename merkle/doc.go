// Package merkle implements the hashing under every notary proof:
//
//   - the RFC 6962 Merkle log: leaf and node hashes, tree hashes, and inclusion
//     and consistency proofs (RFC 9162, section 2.1), computed from a store of
//     hashes laid out as in golang.org/x/mod/sumdb/tlog;
//   - operation lists in the style of OpenTimestamps (append, prepend, sha256)
//     that take a message to the value it commits to;
//   - Bitcoin's block Merkle tree (double SHA-256) and its branches.
//
// The package uses only the standard library and keeps no state. Every
// verification function is a pure function of its arguments that returns nil
// if and only if the proof is valid: a proof that is well formed but does not
// lead to the expected root yields an error wrapping [ErrMismatch]; any other
// error means the input was malformed (an index out of range, a proof of the
// wrong length).
//
// # Stored hashes
//
// A log of n leaves is kept as a sequence of StoredHashCount(n) hashes, about
// two per leaf. Appending leaf n appends the hashes returned by [StoredHashes]:
// the leaf hash, then the hash of every complete subtree that the leaf
// completes. The hash of the complete subtree of 2^level leaves starting at
// leaf n·2^level sits at storage index StoredHashIndex(level, n). Storage is
// asked for through the one-method [HashReader] interface; any tree hash or
// proof then costs O(log n) stored hashes, read in a single call.
//
// # Bitcoin block Merkle tree
//
// Bitcoin's block Merkle tree hashes pairs with double SHA-256, without the
// leaf and node prefixes of RFC 6962, and duplicates the last hash of a level
// with an odd number of hashes. All hashes of the block functions (txids,
// branch hashes, roots) are in internal byte order, as they appear in
// serialized blocks; explorers print them byte-reversed.
//
// Inner nodes of that tree are hashes of 64-byte strings, so a 64-byte
// transaction could be passed off as an inner node: a verifier must not accept
// a branch for a transaction of exactly 64 bytes.
package merkle
