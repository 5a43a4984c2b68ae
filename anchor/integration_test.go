package anchor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/notary-dev/notary/internal/btcdnode"
	"github.com/notary-dev/notary/internal/btcdnode/btcdtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// These tests run the Anchorer against real btcd regtest nodes.

const testTag = "notary-test"

type btcdRig struct {
	t     *testing.T
	ctx   context.Context
	node  *btcdnode.Node
	rpc   *RPC
	store *memStore
	cps   *fakeCheckpoints
	clock *fakeClock
	cfg   Config
	a     *Anchorer
}

// newBtcdRig starts a regtest node mining to a new key, matures two coinbase coins
// and opens an Anchorer on it. listen makes the node accept peers.
func newBtcdRig(t *testing.T, listen bool, mod func(*Config)) *btcdRig {
	return newBtcdRigOn(t, &chaincfg.RegressionNetParams, 101, listen, mod)
}

// newBtcdRigOn is newBtcdRig on params (regtest or simnet), mining blocks first.
func newBtcdRigOn(t *testing.T, params *chaincfg.Params, blocks int, listen bool, mod func(*Config)) *btcdRig {
	t.Helper()
	key := newTestKey(t)
	addr, err := Address(key, params)
	if err != nil {
		t.Fatal(err)
	}
	r := &btcdRig{t: t, ctx: btcdtest.Context(t, 5*time.Minute), store: newMemStore(), cps: &fakeCheckpoints{}, clock: newFakeClock()}
	r.node = btcdtest.Start(t, btcdnode.Options{Network: params.Name, MiningAddr: addr.EncodeAddress(), Listen: listen})
	r.rpc, err = NewRPC(r.node.RPCConfig())
	if err != nil {
		t.Fatal(err)
	}
	r.cfg = Config{
		Params: params, Key: key, Node: r.rpc, Store: r.store, Checkpoints: r.cps,
		Interval: time.Minute, BumpAfter: 10 * time.Minute, Depth: 1, Tag: []byte(testTag),
		Now: r.clock.Now, CallTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&r.cfg)
	}
	r.mine(blocks)
	r.a = r.open(r.cfg)
	return r
}

func (r *btcdRig) open(cfg Config) *Anchorer {
	r.t.Helper()
	a, err := New(r.ctx, cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	return a
}

func (r *btcdRig) mine(n int) []chainhash.Hash {
	r.t.Helper()
	hashes, err := r.node.Generate(r.ctx, n)
	if err != nil {
		r.t.Fatal(err)
	}
	return hashes
}

func (r *btcdRig) step() {
	r.t.Helper()
	if err := r.a.Step(r.ctx); err != nil {
		r.t.Fatalf("Step: %v", err)
	}
}

func (r *btcdRig) only() service.Anchor {
	r.t.Helper()
	as := r.a.Anchors()
	if len(as) != 1 {
		r.t.Fatalf("%d anchors, want 1: %+v", len(as), as)
	}
	return as[0]
}

func (r *btcdRig) mempool() []string {
	r.t.Helper()
	raw, err := r.node.Call(r.ctx, "getrawmempool")
	if err != nil {
		r.t.Fatal(err)
	}
	var ids []string
	if err := json.Unmarshal(raw, &ids); err != nil {
		r.t.Fatal(err)
	}
	return ids
}

// blockTxIDs returns the txids of the best-chain block at height.
func (r *btcdRig) blockTxIDs(height int64) []string {
	r.t.Helper()
	h, err := r.rpc.BlockHash(r.ctx, height)
	if err != nil {
		r.t.Fatal(err)
	}
	blk, err := r.rpc.Block(r.ctx, h)
	if err != nil {
		r.t.Fatal(err)
	}
	var ids []string
	for _, tx := range blk.Transactions {
		ids = append(ids, tx.TxHash().String())
	}
	return ids
}

// verifyAttestation checks a's proof material on its own and against the node:
// the transaction hashes to the txid and commits tag ‖ root in OP_RETURN, the branch
// leads to the header's Merkle root, and the header is the node's at that height.
func (r *btcdRig) verifyAttestation(a service.Anchor) {
	r.t.Helper()
	att := a.Bitcoin
	if att == nil {
		r.t.Fatalf("anchor %d has no attestation", a.ID)
	}
	if att.Network != r.cfg.Params.Name || att.Height != a.Height {
		r.t.Errorf("attestation network %q height %d, want %s %d", att.Network, att.Height, r.cfg.Params.Name, a.Height)
	}
	var tx wire.MsgTx
	if err := tx.DeserializeNoWitness(bytes.NewReader(att.Tx)); err != nil {
		r.t.Fatalf("attestation tx: %v", err)
	}
	if tx.HasWitness() || tx.TxHash().String() != a.TxID {
		r.t.Errorf("attestation tx %v (witness %v), want the non-witness serialization of %s", tx.TxHash(), tx.HasWitness(), a.TxID)
	}
	pushes, err := txscript.PushedData(tx.TxOut[0].PkScript)
	if err != nil || len(pushes) != 1 || !bytes.Equal(pushes[0], Payload([]byte(testTag), a.Root)) {
		r.t.Errorf("OP_RETURN data %x, want tag ‖ root %x", pushes, Payload([]byte(testTag), a.Root))
	}
	hdr := notary.Header(att.Header)
	if got := merkle.BlockRootFromBranch(merkle.DoubleSHA256(att.Tx), att.TxIndex, att.Branch); got != hdr.MerkleRoot() {
		r.t.Errorf("branch leads to %v, header root %v", got, hdr.MerkleRoot())
	}
	if err := hdr.CheckProofOfWork(att.Network); err != nil {
		r.t.Errorf("header: %v", err)
	}
	best, err := r.rpc.BlockHash(r.ctx, att.Height)
	if err != nil {
		r.t.Fatal(err)
	}
	if chainhash.Hash(hdr.Hash()) != best {
		r.t.Errorf("header is block %v, the node's block %d is %v", chainhash.Hash(hdr.Hash()), att.Height, best)
	}
}

func TestBtcdAnchorConfirmFinal(t *testing.T) {
	t.Parallel()
	r := newBtcdRig(t, false, func(c *Config) { c.Depth = 2 })
	r.step()
	if w, _ := r.a.Wallet(r.ctx); w.Coins != 101 || w.Spendable != 100e8 || w.Height != 101 || !w.Synced {
		t.Fatalf("wallet = %+v, want 101 coins of which 2 mature", w)
	}

	r.cps.set(10)
	r.step()
	a := r.only()
	if a.Status != service.AnchorMempool || a.Size != 10 || a.Root != rootOf(10) || a.Fee <= 0 {
		t.Fatalf("new anchor: %+v", a)
	}
	if mp := r.mempool(); !slices.Equal(mp, []string{a.TxID}) {
		t.Fatalf("mempool %v, want [%s]", mp, a.TxID)
	}

	r.mine(1)
	r.step()
	a = r.only()
	if a.Status != service.AnchorConfirmed || a.Height != 102 || a.Confirmations != 1 {
		t.Fatalf("after one block: %+v", a)
	}
	if !slices.Contains(r.blockTxIDs(102), a.TxID) {
		t.Fatalf("block 102 lacks %s", a.TxID)
	}
	r.verifyAttestation(a)
	if c, _ := r.a.Covering(r.ctx, 3); c == nil || c.Status != service.AnchorConfirmed {
		t.Errorf("Covering(3) = %+v, want the confirmed anchor", c)
	}

	r.mine(1)
	r.step()
	a = r.only()
	if a.Status != service.AnchorFinal || a.Confirmations != 2 {
		t.Fatalf("after two blocks: %+v", a)
	}
	r.verifyAttestation(a)
	if c, _ := r.a.Covering(r.ctx, 9); c == nil || c.ID != a.ID || c.Status != service.AnchorFinal {
		t.Errorf("Covering(9) = %+v, want the final anchor", c)
	}
	if c, _ := r.a.Covering(r.ctx, 10); c != nil {
		t.Errorf("Covering(10) = %+v, want nil", c)
	}

	// The next anchor spends another coin; the change of the first is a coin too.
	w, _ := r.a.Wallet(r.ctx)
	if w.Coins != 103 || w.Height != 103 {
		t.Errorf("wallet after the anchor: %+v, want 101 coinbase outputs left + 2 new + change", w)
	}
	r.cps.set(25)
	r.clock.advance(time.Minute)
	r.step()
	r.mine(2)
	r.step()
	as := r.a.Anchors()
	if len(as) != 2 || as[0].Size != 25 || as[0].Status != service.AnchorFinal {
		t.Fatalf("anchors = %+v, want a second final one of size 25", as)
	}
	r.verifyAttestation(as[0])
	if c, _ := r.a.Covering(r.ctx, 10); c == nil || c.ID != as[0].ID {
		t.Errorf("Covering(10) = %+v, want the second anchor", c)
	}
}

func TestBtcdFeeBump(t *testing.T) {
	t.Parallel()
	r := newBtcdRig(t, false, nil)
	r.step()
	r.cps.set(10)
	r.step()
	first := r.only()

	// Not mined within BumpAfter: replaced, committing the newest root.
	r.cps.set(12)
	r.clock.advance(r.cfg.BumpAfter)
	r.step()
	bumped := r.only()
	vsize := anchorVSize(len(testTag) + 32)
	if bumped.TxID == first.TxID || bumped.Size != 12 || bumped.Root != rootOf(12) || bumped.Replacements != 1 {
		t.Fatalf("after BumpAfter: %+v (first %+v)", bumped, first)
	}
	if bumped.Fee < first.Fee+vsize {
		t.Errorf("replacement fee %d, want at least %d + %d", bumped.Fee, first.Fee, vsize)
	}
	if mp := r.mempool(); !slices.Equal(mp, []string{bumped.TxID}) {
		t.Fatalf("mempool %v, want only the replacement %s", mp, bumped.TxID)
	}

	// A second bump, without a newer checkpoint.
	r.clock.advance(r.cfg.BumpAfter)
	r.step()
	second := r.only()
	if second.TxID == bumped.TxID || second.Size != 12 || second.Replacements != 2 || second.Fee < bumped.Fee+vsize {
		t.Fatalf("second bump: %+v", second)
	}

	r.mine(1)
	r.step()
	a := r.only()
	if a.Status != service.AnchorFinal || a.TxID != second.TxID || a.Size != 12 {
		t.Fatalf("mined: %+v, want the last replacement final", a)
	}
	ids := r.blockTxIDs(a.Height)
	if !slices.Contains(ids, second.TxID) || slices.Contains(ids, first.TxID) || slices.Contains(ids, bumped.TxID) {
		t.Errorf("block %d holds %v", a.Height, ids)
	}
	r.verifyAttestation(a)
}

// TestBtcdNodeDown stops the node under a pending anchor. A call to a node that is down
// is refused at once: Step must fail with that refusal, not wait for a deadline. The
// calls are given an hour, so a Step that waited would still be waiting when returns
// gives up.
func TestBtcdNodeDown(t *testing.T) {
	t.Parallel()
	r := newBtcdRig(t, false, func(c *Config) { c.CallTimeout = time.Hour })
	r.step()
	r.cps.set(10)
	r.step()
	before := r.only()
	if err := r.node.Stop(); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"pending anchor", "bump due"} {
		if name == "bump due" {
			r.clock.advance(r.cfg.BumpAfter)
		}
		start := time.Now()
		err := returns(t, name+": Step with the node down", func() error { return r.a.Step(context.Background()) })
		if err == nil {
			t.Fatalf("%s: Step with the node down succeeded", name)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: Step waited for a deadline with the node down: %v", name, err)
		}
		t.Logf("%s: Step failed in %v: %v", name, time.Since(start), err)
	}
	// The state is intact and readable.
	if a := r.only(); a.TxID != before.TxID || a.Status != service.AnchorMempool {
		t.Errorf("after the failed steps: %+v, want %+v", a, before)
	}
	if c, err := r.a.Covering(context.Background(), 0); err != nil || c == nil {
		t.Errorf("Covering with the node down = %v, %v", c, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := returns(t, "Run with the node down", func() error { return r.a.Run(ctx) }); err != nil {
		t.Errorf("Run with the node down = %v", err)
	}
}

// lossyNode is a Node whose SendRawTransaction fails, as if the process died
// around the broadcast: before the node got the transaction, or after (deliver).
type lossyNode struct {
	Node
	deliver bool
}

var errLost = errors.New("connection reset by peer")

func (n lossyNode) SendRawTransaction(ctx context.Context, tx *wire.MsgTx) error {
	if n.deliver {
		if err := n.Node.SendRawTransaction(ctx, tx); err != nil {
			return err
		}
	}
	return errLost
}

func TestBtcdRestartMidAnchor(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		deliver bool
	}{
		{"broadcast lost", false},
		{"answer lost", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newBtcdRig(t, false, nil)
			cfg := r.cfg
			cfg.Node = lossyNode{Node: r.rpc, deliver: tt.deliver}
			crashed := r.open(cfg)
			if err := crashed.Step(r.ctx); err != nil {
				t.Fatal(err)
			}
			r.cps.set(10)
			if err := crashed.Step(r.ctx); !errors.Is(err, errLost) {
				t.Fatalf("Step with the broadcast failing: %v", err)
			}
			saved := crashed.Anchors()
			if len(saved) != 1 || r.store.recordCount() != 1 {
				t.Fatalf("saved anchors %+v, store holds %d; want one saved before the broadcast", saved, r.store.recordCount())
			}
			want := []string{}
			if tt.deliver {
				want = []string{saved[0].TxID}
			}
			if mp := r.mempool(); !slices.Equal(mp, want) {
				t.Fatalf("mempool %v, want %v", mp, want)
			}

			// A new process on the same store sends the same transaction, once.
			r.a = r.open(r.cfg)
			r.cps.set(11)
			r.step()
			if a := r.only(); a.TxID != saved[0].TxID || a.Size != 10 || a.Replacements != 0 {
				t.Fatalf("after the restart: %+v, want the saved %+v", a, saved[0])
			}
			if mp := r.mempool(); !slices.Equal(mp, []string{saved[0].TxID}) {
				t.Fatalf("mempool %v, want the saved transaction", mp)
			}
			r.mine(1)
			r.step()
			a := r.only()
			if a.Status != service.AnchorFinal || a.TxID != saved[0].TxID {
				t.Fatalf("mined: %+v", a)
			}
			r.verifyAttestation(a)
			if r.store.recordCount() != 1 {
				t.Errorf("store holds %d records, want 1", r.store.recordCount())
			}
		})
	}
}

// TestBtcdReorg drops the anchoring block with a longer competing chain mined by a
// second node that never saw the transaction.
func TestBtcdReorg(t *testing.T) {
	t.Parallel()
	r := newBtcdRig(t, true, func(c *Config) { c.Depth = 3 })
	otherAddr, _ := Address(newTestKey(t), &chaincfg.RegressionNetParams)
	other := btcdtest.Start(t, btcdnode.Options{MiningAddr: otherAddr.EncodeAddress(), Listen: true})

	// other syncs the 101 blocks, then goes its own way.
	if err := other.ConnectPeer(r.ctx, r.node.P2PAddr()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r.ctx, "other at height 101", func() bool { return blockCount(r.ctx, other) == 101 })
	if err := other.DisconnectPeer(r.ctx, r.node.P2PAddr()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r.ctx, "nodes apart", func() bool { return peerCount(r.ctx, r.node) == 0 && peerCount(r.ctx, other) == 0 })

	r.step()
	r.cps.set(10)
	r.step()
	r.mine(1)
	r.step()
	a := r.only()
	if a.Status != service.AnchorConfirmed || a.Height != 102 {
		t.Fatalf("mined: %+v", a)
	}
	r.verifyAttestation(a)

	// The competing chain is longer; once connected, the node switches to it.
	competing, err := other.Generate(r.ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.ConnectPeer(r.ctx, r.node.P2PAddr()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r.ctx, "reorganization", func() bool {
		h, err := r.rpc.BlockHash(r.ctx, 103)
		return err == nil && h == competing[1]
	})

	r.step()
	a = r.only()
	if a.Status != service.AnchorMempool || a.Bitcoin != nil || a.Height != 0 {
		t.Fatalf("after the reorganization: %+v, want back in the mempool", a)
	}
	if mp := r.mempool(); !slices.Equal(mp, []string{a.TxID}) {
		t.Fatalf("mempool %v, want [%s]", mp, a.TxID)
	}

	r.mine(1)
	r.step()
	a = r.only()
	if a.Status != service.AnchorConfirmed || a.Height != 104 {
		t.Fatalf("mined again: %+v", a)
	}
	r.mine(2)
	r.step()
	a = r.only()
	if a.Status != service.AnchorFinal || a.Height != 104 || a.Confirmations != 3 {
		t.Fatalf("final: %+v", a)
	}
	r.verifyAttestation(a)
}

func blockCount(ctx context.Context, n *btcdnode.Node) int64 {
	h, _ := n.BlockCount(ctx)
	return h
}

func peerCount(ctx context.Context, n *btcdnode.Node) int {
	raw, err := n.Call(ctx, "getconnectioncount")
	var c int
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return -1
	}
	return c
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestBtcdSimnet anchors on simnet, whose chain survives restarts but where segwit
// is not active from the start: it activates by BIP 9 signalling, for blocks from
// height 300 on. Before that btcd refuses to relay the P2WPKH spend.
func TestBtcdSimnet(t *testing.T) {
	t.Parallel()
	r := newBtcdRigOn(t, &chaincfg.SimNetParams, 298, false, nil)
	r.step()
	r.cps.set(10)
	err := r.a.Step(r.ctx)
	if !errors.Is(err, ErrTxRejected) {
		t.Fatalf("anchor with segwit inactive: %v, want ErrTxRejected", err)
	}
	t.Logf("at height 298: %v", err)
	if len(r.a.Anchors()) != 0 {
		t.Fatalf("a refused anchor is listed: %+v", r.a.Anchors())
	}

	r.mine(1) // the next block, 300, is the first where segwit is active
	r.clock.advance(r.cfg.Interval)
	r.step()
	a := r.only()
	r.mine(1)
	r.step()
	a = r.only()
	if a.Status != service.AnchorFinal || a.Height != 300 {
		t.Fatalf("simnet anchor: %+v", a)
	}
	r.verifyAttestation(a)
}
