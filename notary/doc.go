// Package notary is the verification library of notary proofs: the formats of log entries,
// signed checkpoints, batch receipts and proofs, their strict parsers (ParseProof,
// OpenCheckpoint, OpenBatchReceipt), and Verify, which checks a proof offline from the
// digest to a Bitcoin block header.
//
// It depends only on the standard library, merkle and golang.org/x/mod/sumdb/note, so a
// verifier can import it without the service, a database or a node client.
package notary
