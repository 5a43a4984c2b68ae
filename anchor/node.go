package anchor

import (
	"context"
	"errors"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Node is the anchorer's view of a Bitcoin node: the best chain, and a way to
// broadcast. The anchorer gives every call its own deadline through ctx;
// implementations must return promptly when ctx is done. Methods may be called from
// one goroutine at a time.
type Node interface {
	// BlockCount returns the height of the node's best chain.
	BlockCount(ctx context.Context) (int64, error)
	// BlockHash returns the hash of the best-chain block at height.
	BlockHash(ctx context.Context, height int64) (chainhash.Hash, error)
	// Block returns the block with the given hash, witness data included.
	Block(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error)
	// SendRawTransaction submits tx to the node's mempool. It returns nil if the node
	// accepted it, and otherwise an error wrapping ErrTxKnown (the node already has
	// it, in its mempool or its chain), ErrTxConflict (its input is missing, spent,
	// or spent by a mempool transaction that cannot be replaced), ErrTxRejected (the
	// node refused it by rule), or anything else when the node could not be asked.
	SendRawTransaction(ctx context.Context, tx *wire.MsgTx) error
	// EstimateFee returns the node's fee rate estimate for confirmation within target
	// blocks, or 0 and no error when it has none.
	EstimateFee(ctx context.Context, target int) (SatPerVByte, error)
}

// Errors callers branch on.
var (
	// ErrTxKnown means the node already has the transaction, in its mempool or chain.
	ErrTxKnown = errors.New("anchor: transaction already known")
	// ErrTxConflict means the transaction's input is missing or already spent.
	ErrTxConflict = errors.New("anchor: transaction conflicts with a spent or missing input")
	// ErrTxRejected means the node refused the transaction by rule (fee, standardness, validity).
	ErrTxRejected = errors.New("anchor: transaction rejected")
	// ErrNoFunds means no mature coin pays for an anchor; fund Address.
	ErrNoFunds = errors.New("anchor: no spendable coin large enough")
	// ErrFeeCap means a fee bump would pay more than the fee cap.
	ErrFeeCap = errors.New("anchor: fee cap reached")
	// ErrKeyMismatch means the stored wallet state belongs to another key.
	ErrKeyMismatch = errors.New("anchor: stored wallet belongs to another key")
)
