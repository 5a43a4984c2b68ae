package anchor

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/notary-dev/notary/internal/bitcoinrpc"
	"github.com/notary-dev/notary/internal/btcdnode"
	"github.com/notary-dev/notary/internal/btcdnode/btcdtest"
)

func TestClassifySendError(t *testing.T) {
	for _, tt := range []struct {
		name string
		code int
		msg  string
		want error
	}{
		// btcd v0.26
		{"btcd in mempool", -26, "TX rejected: already have transaction in mempool 4f1e", ErrTxKnown},
		{"btcd in chain", -27, "TX rejected: transaction already exists in blockchain", ErrTxKnown},
		{"btcd spent input", -25, "TX rejected: orphan transaction 4f1e references outputs of unknown or fully-spent transaction 9a0b", ErrTxConflict},
		{"btcd low replacement fee", -26, "TX rejected: 4f1e: replacement transaction has an insufficient absolute fee: needs 400, has 300", ErrTxRejected},
		{"btcd not replaceable", -26, "TX rejected: output already spent in mempool: output=9a0b:0, tx=77aa", ErrTxConflict},
		{"btcd immature coinbase", -25, "TX rejected: tried to spend coinbase transaction output 9aae:0 from height 101 at height 103 before required maturity of 100 blocks", ErrTxRejected},
		{"btcd internal failure", -25, "TX rejected: database is closed", ErrTxRejected},
		{"btcd decode", -22, "TX decode failed: unexpected EOF", ErrTxRejected},
		// bitcoind
		{"bitcoind in mempool (old)", -26, "txn-already-in-mempool", ErrTxKnown},
		{"bitcoind known", -27, "txn-already-known", ErrTxKnown},
		{"bitcoind in chain", -27, "Transaction outputs already in utxo set", ErrTxKnown},
		{"bitcoind spent input", -25, "bad-txns-inputs-missingorspent", ErrTxConflict},
		{"bitcoind missing inputs", -25, "Missing inputs", ErrTxConflict},
		{"bitcoind conflict", -26, "txn-mempool-conflict", ErrTxConflict},
		{"bitcoind low fee", -26, "min relay fee not met, 100 < 141", ErrTxRejected},
		{"bitcoind bad signature", -26, "mandatory-script-verify-flag-failed (Signature must be zero for failed CHECK(MULTI)SIG operation)", ErrTxRejected},
		{"bitcoind verify error", -25, "bad-txns-premature-spend-of-coinbase", ErrTxRejected},
		{"unrelated", -1, "something", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := classifySendError(&bitcoinrpc.Error{Method: "sendrawtransaction", Code: tt.code, Message: tt.msg})
			if got != tt.want {
				t.Errorf("classifySendError(%d %q) = %v, want %v", tt.code, tt.msg, got, tt.want)
			}
		})
	}
}

// TestRPCDeadline talks to a server that accepts connections and never answers:
// every call must end with its context. The client's own timeout is far longer than
// the test waits, so a call that ignored its context would still be hanging when
// returns gives up; a call that returned before its context ended fails the check of
// ctx.Err.
func TestRPCDeadline(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	rpc, err := NewRPC(bitcoinrpc.Config{Host: l.Addr().String(), User: "u", Pass: "p", Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = returns(t, "BlockCount on a silent server", func() error { _, err := rpc.BlockCount(ctx); return err })
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() == nil {
		t.Errorf("BlockCount on a silent server: %v (context: %v), want DeadlineExceeded when the context ended", err, ctx.Err())
	}

	// The anchorer gives each call CallTimeout.
	r := newFakeRig(t, func(c *Config) { c.Node = rpc; c.CallTimeout = 200 * time.Millisecond })
	err = returns(t, "Step on a silent node", func() error { return r.a.Step(context.Background()) })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Step on a silent node: %v, want DeadlineExceeded", err)
	}
}

// TestRPCBtcd checks the Node of a real btcd: chain reads, fee estimation and the
// classification of sendrawtransaction answers. Credentials and bounds are
// internal/bitcoinrpc's, tested there.
func TestRPCBtcd(t *testing.T) {
	t.Parallel()
	key := newTestKey(t)
	addr, _ := Address(key, &chaincfg.RegressionNetParams)
	node := btcdtest.Start(t, btcdnode.Options{MiningAddr: addr.EncodeAddress()})
	ctx := btcdtest.Context(t, 5*time.Minute)
	rpc, err := NewRPC(node.RPCConfig())
	if err != nil {
		t.Fatal(err)
	}

	// btcd has no estimatesmartfee; estimatefee fails on a fresh chain (as -32600).
	if rate, err := rpc.EstimateFee(ctx, 6); rate != 0 || err != nil {
		t.Errorf("EstimateFee on a fresh chain = %v, %v; want 0, nil", rate, err)
	}
	if rpc.feeMethod.Load() != 2 {
		t.Errorf("fee method %d, want 2 (estimatefee)", rpc.feeMethod.Load())
	}

	hashes, err := node.Generate(ctx, 101)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := rpc.BlockCount(ctx); n != 101 || err != nil {
		t.Fatalf("BlockCount() = %d, %v", n, err)
	}
	h, err := rpc.BlockHash(ctx, 1)
	if err != nil || h != hashes[0] {
		t.Fatalf("BlockHash(1) = %v, %v; want %v", h, err, hashes[0])
	}
	blk, err := rpc.Block(ctx, h)
	if err != nil || blk.BlockHash() != h || len(blk.Transactions) != 1 {
		t.Fatalf("Block(%v) = %v", h, err)
	}
	var rpcErr *bitcoinrpc.Error
	if _, err := rpc.BlockHash(ctx, 500); !errors.As(err, &rpcErr) {
		t.Errorf("BlockHash beyond the tip: %v, want a *bitcoinrpc.Error", err)
	}
	if _, err := rpc.Block(ctx, chainhash.Hash{1}); !errors.As(err, &rpcErr) {
		t.Errorf("Block of an unknown hash: %v, want a *bitcoinrpc.Error", err)
	}
	if rate, err := rpc.EstimateFee(ctx, 6); rate != 0 || err != nil {
		t.Errorf("EstimateFee with empty blocks = %v, %v; want 0, nil", rate, err)
	}

	// Send answers.
	in := spendable{OutPoint: coinbaseOut(blk), Value: 50 * btcutil.SatoshiPerBitcoin}
	tx1, _ := buildAnchorTx(key, in, Payload(nil, rootOf(1)), 200)
	if err := rpc.SendRawTransaction(ctx, tx1); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := rpc.SendRawTransaction(ctx, tx1); !errors.Is(err, ErrTxKnown) {
		t.Errorf("send again: %v, want ErrTxKnown", err)
	}
	// A replacement that does not pay for its relay is refused...
	tx2, _ := buildAnchorTx(key, in, Payload(nil, rootOf(2)), 250)
	if err := rpc.SendRawTransaction(ctx, tx2); !errors.Is(err, ErrTxRejected) {
		t.Errorf("underpaying replacement: %v, want ErrTxRejected", err)
	}
	// ... one that does is accepted (BIP 125 replacement on btcd).
	tx3, _ := buildAnchorTx(key, in, Payload(nil, rootOf(3)), 200+btcutil.Amount(anchorVSize(32)))
	if err := rpc.SendRawTransaction(ctx, tx3); err != nil {
		t.Errorf("replacement: %v", err)
	}
	if _, err := node.Generate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := rpc.SendRawTransaction(ctx, tx3); !errors.Is(err, ErrTxKnown) {
		t.Errorf("send a mined transaction: %v, want ErrTxKnown", err)
	}
	if err := rpc.SendRawTransaction(ctx, tx1); !errors.Is(err, ErrTxConflict) {
		t.Errorf("send a version whose coin is spent: %v, want ErrTxConflict", err)
	}
	// An immature coinbase.
	young := spendable{OutPoint: coinbaseOut(mustBlock(t, rpc, ctx, 101)), Value: 50 * btcutil.SatoshiPerBitcoin}
	tx4, _ := buildAnchorTx(key, young, Payload(nil, rootOf(4)), 200)
	if err := rpc.SendRawTransaction(ctx, tx4); !errors.Is(err, ErrTxRejected) {
		t.Errorf("spend an immature coinbase: %v, want ErrTxRejected", err)
	}

}

func mustBlock(t *testing.T, rpc *RPC, ctx context.Context, height int64) *wire.MsgBlock {
	t.Helper()
	h, err := rpc.BlockHash(ctx, height)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := rpc.Block(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	return blk
}
