package service

import (
	"context"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// AnchorStatus says how far a Bitcoin anchor has come.
type AnchorStatus string

const (
	// AnchorSigned: the anchoring transaction is signed and saved, but no node has
	// accepted it yet (it is being sent, or the node is unreachable).
	AnchorSigned AnchorStatus = "signed"
	// AnchorMempool: the node accepted the anchoring transaction; it is not in a block yet.
	AnchorMempool AnchorStatus = "mempool"
	// AnchorConfirmed: the transaction is in the best chain, less deep than the final depth.
	AnchorConfirmed AnchorStatus = "confirmed"
	// AnchorFinal: the transaction is at least the final depth deep; proofs through it are complete.
	AnchorFinal AnchorStatus = "final"
)

// Anchor is a Bitcoin transaction that commits the root of the log at some size,
// as the service sees it now.
type Anchor struct {
	ID            int64
	Status        AnchorStatus
	Size          int64       // log size whose root the transaction commits
	Root          merkle.Hash // that root
	TxID          string      // as explorers print it (byte-reversed hex)
	Fee           int64       // satoshis paid by the current transaction
	Replacements  int         // how many times the fee was bumped by replacement
	Height        int64       // block height, when confirmed
	Confirmations int64       // depth in the best chain, when confirmed
	// Bitcoin is the proof material, present once the transaction is in a block.
	Bitcoin *BitcoinAttestation
}

// BitcoinAttestation is what ties a log root to a Bitcoin block header.
type BitcoinAttestation struct {
	Network string        // "mainnet", "testnet3", "testnet4", "signet", "regtest" or "simnet"
	Tx      []byte        // the transaction, non-witness serialization (what the txid hashes)
	TxIndex int           // position of the transaction in its block
	Branch  []merkle.Hash // the transaction's Merkle branch in the block, bottom up
	Header  [80]byte      // the block header
	Height  int64         // the block height
}

// AnchorSource reports Bitcoin anchors. The anchor package implements it.
type AnchorSource interface {
	// Covering returns the earliest anchor whose size exceeds index, preferring a final
	// anchor to an unconfirmed one. It returns (nil, nil) when no anchor covers index yet.
	Covering(ctx context.Context, index int64) (*Anchor, error)
}

// CheckpointSource gives the newest signed checkpoint. The Service implements it.
type CheckpointSource interface {
	LatestCheckpoint() notary.Checkpoint
}
