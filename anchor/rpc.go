package anchor

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/notary-dev/notary/internal/bitcoinrpc"
)

// RPC is a Node backed by the JSON-RPC interface that bitcoind and btcd share. Each
// call is one HTTP POST governed by its context: no retries, no background
// goroutines, so a dead node costs a caller at most its deadline.
type RPC struct {
	client *bitcoinrpc.Client
	// feeMethod remembers which fee estimation call the node answers:
	// 0 unknown, 1 estimatesmartfee (bitcoind), 2 estimatefee (btcd).
	feeMethod atomic.Int32
}

var _ Node = (*RPC)(nil)

// NewRPC returns a client for the node described by cfg. It does not contact the node.
func NewRPC(cfg bitcoinrpc.Config) (*RPC, error) {
	c, err := bitcoinrpc.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("anchor: %w", err)
	}
	return &RPC{client: c}, nil
}

// call performs one JSON-RPC call and decodes its result into out (if not nil). Its
// errors say "anchor: node: METHOD: …", which nodeError keeps as they are; the node's
// error answers are *bitcoinrpc.Error.
func (c *RPC) call(ctx context.Context, out any, method string, params ...any) error {
	if err := c.client.Call(ctx, out, method, params...); err != nil {
		return fmt.Errorf("anchor: %w", err)
	}
	return nil
}

// BlockCount implements Node.
func (c *RPC) BlockCount(ctx context.Context) (int64, error) {
	var n int64
	err := c.call(ctx, &n, "getblockcount")
	return n, err
}

// BlockHash implements Node.
func (c *RPC) BlockHash(ctx context.Context, height int64) (chainhash.Hash, error) {
	var s string
	if err := c.call(ctx, &s, "getblockhash", height); err != nil {
		return chainhash.Hash{}, err
	}
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		return chainhash.Hash{}, fmt.Errorf("anchor: node: getblockhash: %v", err)
	}
	return *h, nil
}

// Block implements Node.
func (c *RPC) Block(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error) {
	var s string
	if err := c.call(ctx, &s, "getblock", hash.String(), 0); err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("anchor: node: getblock %s: %v", hash, err)
	}
	var blk wire.MsgBlock
	if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("anchor: node: getblock %s: %v", hash, err)
	}
	if got := blk.BlockHash(); got != hash {
		return nil, fmt.Errorf("anchor: node: getblock %s returned block %s", hash, got)
	}
	return &blk, nil
}

// SendRawTransaction implements Node.
func (c *RPC) SendRawTransaction(ctx context.Context, tx *wire.MsgTx) error {
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return fmt.Errorf("anchor: serialize transaction: %v", err)
	}
	err := c.call(ctx, nil, "sendrawtransaction", hex.EncodeToString(buf.Bytes()))
	var rpcErr *bitcoinrpc.Error
	if errors.As(err, &rpcErr) {
		if kind := classifySendError(rpcErr); kind != nil {
			return &sendError{kind: kind, err: rpcErr}
		}
	}
	return err
}

// sendError is a node's answer to sendrawtransaction that matches kind
// (ErrTxKnown, ErrTxConflict or ErrTxRejected); its text is the node's.
type sendError struct {
	kind error
	err  *bitcoinrpc.Error
}

func (e *sendError) Error() string   { return "anchor: " + e.err.Error() }
func (e *sendError) Unwrap() []error { return []error{e.kind, e.err} }

// classifySendError maps a sendrawtransaction error answer from bitcoind or btcd
// onto ErrTxKnown, ErrTxConflict or ErrTxRejected; nil means the answer says
// nothing about the transaction.
func classifySendError(e *bitcoinrpc.Error) error {
	msg := strings.ToLower(e.Message)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(msg, s) {
				return true
			}
		}
		return false
	}
	switch {
	case e.Code == bitcoinrpc.CodeAlreadyInChain,
		has("already have transaction", "already in block chain", "already exists",
			"txn-already-in-mempool", "txn-already-known", "already in utxo set"):
		return ErrTxKnown
	case has("missing inputs", "missingorspent", "missing-inputs", "orphan transaction",
		"txn-mempool-conflict", "already spent", "fully-spent"):
		return ErrTxConflict
	case e.Code == bitcoinrpc.CodeVerifyRejected, e.Code == bitcoinrpc.CodeDeserialization, e.Code == bitcoinrpc.CodeVerifyError:
		// btcd answers -25 for consensus failures (an immature coinbase, a bad
		// signature) and, rarely, for its own internal failures, which this
		// takes for a rejection too.
		return ErrTxRejected
	}
	return nil
}

// EstimateFee implements Node. It asks estimatesmartfee (bitcoind) and falls back
// to estimatefee (btcd), remembering which one the node answers. Answers that carry
// no estimate (btcd on a young chain fails, or says 0) give 0 and no error.
func (c *RPC) EstimateFee(ctx context.Context, target int) (SatPerVByte, error) {
	if c.feeMethod.Load() != 2 {
		var smart struct {
			FeeRate *float64 `json:"feerate"`
		}
		err := c.call(ctx, &smart, "estimatesmartfee", target)
		var rpcErr *bitcoinrpc.Error
		switch {
		case err == nil:
			c.feeMethod.Store(1)
			if smart.FeeRate == nil {
				return 0, nil
			}
			return RateFromBTCPerKvB(*smart.FeeRate), nil
		case !errors.As(err, &rpcErr):
			return 0, err
		case rpcErr.Code != bitcoinrpc.CodeMethodNotFound || c.feeMethod.Load() == 1:
			return 0, nil
		}
		c.feeMethod.Store(2)
	}
	var btcPerKB float64
	err := c.call(ctx, &btcPerKB, "estimatefee", target)
	var rpcErr *bitcoinrpc.Error
	if errors.As(err, &rpcErr) {
		return 0, nil // btcd: "not enough blocks have been observed", reported as -32600
	}
	if err != nil {
		return 0, err
	}
	return RateFromBTCPerKvB(btcPerKB), nil
}
