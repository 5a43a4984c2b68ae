// Package ots reads and writes OpenTimestamps proofs: detached timestamp files (.ots) and
// the bare timestamps that OpenTimestamps calendars answer with.
//
// A [Timestamp] is a tree. Each node holds a message; each edge is an operation (append,
// prepend, a hash, …) from a node's message to its child's; attestations hang off nodes and
// say that a message existed by some time: a [Bitcoin] attestation says the message is the
// Merkle root of the block at a height, a [Pending] one names a calendar that will complete
// the timestamp later. A [File] is a timestamp whose root message is a file's digest, behind
// a magic header.
//
// The byte format is the one of the reference implementation (python-opentimestamps): what
// [ParseFile] accepts, the reference accepts, and what [File.MarshalBinary] writes is, byte
// for byte, what the reference writes for the same tree, including the order of branches
// and attestations. The parser computes every node's message as it reads, with the
// reference's limits (messages and results of at most 4096 bytes, 256 levels), and is
// stricter in three ways: it rejects non-minimal integers, repeated branches or
// attestations (which the reference merges silently), and inputs larger than [MaxSize] or
// whose messages add up to more than 16 MiB.
// Branches and attestations may come in any order, as in the reference; they are written
// sorted, so a file that the reference wrote parses and marshals back to the same bytes.
//
// The package needs only the standard library and package merkle, whose [merkle.Op] it uses
// for operations: notary's proofs are operation lists from a digest to a block header's
// Merkle root, which is the shape of an OpenTimestamps proof.
package ots
