// Package service runs a notary log: it sequences submitted digests into the log through
// one writer (group commit), answers each with a receipt signed once per commit, publishes
// checkpoints, and assembles inclusion, consistency and complete proofs from a Store and an
// AnchorSource.
//
// Every checkpoint it signs extends every one it signed before; an acknowledged submission
// is durable in the Store before its receipt is returned.
package service
