package anchor

import (
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

var ourScript = []byte{0x00, 0x14, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa}

// chainBuilder connects synthetic blocks to a follower and remembers them.
type chainBuilder struct {
	t      *testing.T
	f      *follower
	blocks []*wire.MsgBlock // by height - f.start
}

func (b *chainBuilder) tipHash() chainhash.Hash {
	if t, ok := b.f.tip(); ok {
		return t.Hash
	}
	return chainhash.Hash{}
}

// add connects a block paying payTo with txs and returns it with the spends reported.
func (b *chainBuilder) add(payTo []byte, txs ...*wire.MsgTx) (*wire.MsgBlock, []spend) {
	b.t.Helper()
	h := b.f.nextHeight()
	blk := makeBlock(b.tipHash(), h, payTo, txs...)
	spends, err := b.f.connect(h, blk)
	if err != nil {
		b.t.Fatalf("connect block %d: %v", h, err)
	}
	b.blocks = append(b.blocks[:h-b.f.start], blk)
	return blk, spends
}

func (b *chainBuilder) disconnect() blockRef {
	b.t.Helper()
	ref, err := b.f.disconnect()
	if err != nil {
		b.t.Fatalf("disconnect: %v", err)
	}
	return ref
}

func coinbaseOut(blk *wire.MsgBlock) wire.OutPoint {
	return wire.OutPoint{Hash: blk.Transactions[0].TxHash(), Index: 0}
}

func TestFollowerConnectFindsCoins(t *testing.T) {
	b := &chainBuilder{t: t, f: newFollower(ourScript, 10, 0)}
	if b.f.tipHeight() != 9 || b.f.nextHeight() != 10 {
		t.Fatalf("empty follower: tip %d, next %d; want 9, 10", b.f.tipHeight(), b.f.nextHeight())
	}
	b1, _ := b.add(ourScript)
	b.add(otherScript)
	if len(b.f.coins) != 1 {
		t.Fatalf("%d coins, want the coinbase of block 10", len(b.f.coins))
	}
	c := b.f.coins[coinbaseOut(b1)]
	if c == nil || !c.Coinbase || c.Height != 10 || c.Value != 50e8 || c.Spent {
		t.Fatalf("coin = %+v", c)
	}

	// Coinbase maturity: spendable at 100 confirmations, i.e. when the tip is at 109.
	for b.f.tipHeight() < 108 {
		b.add(otherScript)
	}
	if b.f.mature(c, 1) {
		t.Errorf("coinbase mature with %d confirmations", b.f.tipHeight()-c.Height+1)
	}
	b.add(otherScript)
	if !b.f.mature(c, 1) {
		t.Errorf("coinbase not mature with %d confirmations", b.f.tipHeight()-c.Height+1)
	}

	// A transaction spending the coin, with change back to us.
	tx := spendTx(c.OutPoint, 49e8, ourScript)
	blk, spends := b.add(otherScript, tx)
	if len(spends) != 1 || spends[0].OutPoint != c.OutPoint || spends[0].TxID != tx.TxHash() || spends[0].TxIndex != 1 {
		t.Fatalf("spends = %+v", spends)
	}
	if !c.Spent || c.SpentBy != tx.TxHash() || c.SpentBlock != blk.BlockHash() {
		t.Errorf("spent coin = %+v", c)
	}
	change := b.f.coins[wire.OutPoint{Hash: tx.TxHash(), Index: 0}]
	if change == nil || change.Coinbase || change.Value != 49e8 {
		t.Fatalf("change coin = %+v", change)
	}
	if b.f.mature(change, 2) || !b.f.mature(change, 1) {
		t.Error("change with 1 confirmation: want mature at minConf 1 only")
	}
	if u := b.f.unspent(); len(u) != 1 || u[0] != change {
		t.Errorf("unspent = %v, want the change", u)
	}
}

func TestFollowerConnectRejects(t *testing.T) {
	b := &chainBuilder{t: t, f: newFollower(ourScript, 0, 0)}
	b.add(ourScript)
	tip := b.tipHash()
	if _, err := b.f.connect(2, makeBlock(tip, 2, ourScript)); !errors.Is(err, errNotExtending) {
		t.Errorf("block at a gap: %v, want errNotExtending", err)
	}
	if _, err := b.f.connect(1, makeBlock(chainhash.Hash{9}, 1, ourScript)); !errors.Is(err, errNotExtending) {
		t.Errorf("block on another parent: %v, want errNotExtending", err)
	}
	if b.f.tipHeight() != 0 || b.tipHash() != tip {
		t.Error("a rejected block changed the tip")
	}
}

func TestFollowerDisconnectUndoes(t *testing.T) {
	b := &chainBuilder{t: t, f: newFollower(ourScript, 0, 0)}
	b0, _ := b.add(ourScript)
	op := coinbaseOut(b0)
	tx := spendTx(op, 1e8, ourScript)
	b1, _ := b.add(otherScript, tx)
	b2, _ := b.add(ourScript)

	ref := b.disconnect()
	if ref.Hash != b2.BlockHash() || ref.Height != 2 {
		t.Errorf("disconnect() = %+v, want block 2", ref)
	}
	if _, ok := b.f.coins[coinbaseOut(b2)]; ok {
		t.Error("the disconnected block's coinbase coin is still there")
	}
	b.disconnect()
	if _, ok := b.f.coins[wire.OutPoint{Hash: tx.TxHash()}]; ok {
		t.Error("the disconnected transaction's change is still there")
	}
	if c := b.f.coins[op]; c == nil || c.Spent {
		t.Errorf("the coin spent in the disconnected block = %+v, want unspent", c)
	}
	if b.f.confirmations(1, b1.BlockHash()) != 0 {
		t.Error("a disconnected block still has confirmations")
	}
	b.disconnect()
	if _, ok := b.f.tip(); ok || len(b.f.coins) != 0 {
		t.Errorf("after disconnecting everything: %d blocks, %d coins", len(b.f.blocks), len(b.f.coins))
	}
	if _, err := b.f.disconnect(); err == nil {
		t.Error("disconnect on an empty follower succeeded")
	}
}

func TestFollowerKeepAndDeepReorg(t *testing.T) {
	b := &chainBuilder{t: t, f: newFollower(ourScript, 0, 3)}
	b0, _ := b.add(ourScript)
	op := coinbaseOut(b0)
	b.add(otherScript, spendTx(op, 1e8, otherScript))
	for range 5 {
		b.add(otherScript)
	}
	if len(b.f.blocks) != 3 || b.f.blocks[0].Height != 4 {
		t.Fatalf("kept blocks %+v, want heights 4..6", b.f.blocks)
	}
	if _, ok := b.f.coins[op]; ok {
		t.Error("a coin spent below the kept blocks was not pruned")
	}
	// Blocks below the kept ones are assumed in the chain.
	if got := b.f.confirmations(1, chainhash.Hash{}); got != 6 {
		t.Errorf("confirmations of an old block = %d, want 6", got)
	}
	b.disconnect()
	b.disconnect()
	if _, err := b.f.disconnect(); !errors.Is(err, errReorgTooDeep) {
		t.Errorf("disconnecting the last kept block: %v, want errReorgTooDeep", err)
	}
}

// TestStateReorg follows an anchor through a block, a two-block reorganization that
// drops it, its return in the new chain, and depth to final.
func TestStateReorg(t *testing.T) {
	key := newTestKey(t)
	script := pkScript(key)
	s := newState(newFollower(script, 0, 0), nil, 3)
	b := &chainBuilder{t: t, f: s.f}
	connect := func(payTo []byte, txs ...*wire.MsgTx) *wire.MsgBlock {
		t.Helper()
		h := s.f.nextHeight()
		blk := makeBlock(b.tipHash(), h, payTo, txs...)
		if err := s.connect(h, blk); err != nil {
			t.Fatal(err)
		}
		return blk
	}
	now := time.Unix(1000, 0)

	funding := connect(script)
	for range 99 {
		connect(otherScript)
	}
	c, err := s.pickCoin()
	if err != nil || c.OutPoint != coinbaseOut(funding) {
		t.Fatalf("pickCoin() = %+v, %v; want the mature coinbase", c, err)
	}

	// Two versions of one anchor; the second is mined.
	in := spendable{OutPoint: c.OutPoint, Value: c.Value}
	tx1, _ := buildAnchorTx(key, in, Payload(nil, rootOf(5)), 200)
	tx2, _ := buildAnchorTx(key, in, Payload(nil, rootOf(7)), 400)
	r := &record{ID: 1, Created: now, Pending: now, OutPoint: c.OutPoint, Value: c.Value, Current: 1, Versions: []*version{
		{Tx: serialize(tx1), TxID: tx1.TxHash(), Size: 5, Root: rootOf(5), Fee: 200},
		{Tx: serialize(tx2), TxID: tx2.TxHash(), Size: 7, Root: rootOf(7), Fee: 400},
	}}
	s.add(r)
	if _, err := s.pickCoin(); !errors.Is(err, ErrNoFunds) {
		t.Errorf("pickCoin() with the only coin reserved: %v, want ErrNoFunds", err)
	}
	if s.status(r) != service.AnchorMempool || len(s.pending()) != 1 {
		t.Fatalf("status %v, want mempool", s.status(r))
	}

	forkBase := b.tipHash()
	forkHeight := s.f.tipHeight()
	mined := connect(otherScript, tx2)
	connect(otherScript)
	if s.status(r) != service.AnchorConfirmed || s.confirmations(r) != 2 {
		t.Fatalf("after 2 blocks: %v with %d confirmations", s.status(r), s.confirmations(r))
	}
	a := r.anchor(s.confirmations(r), s.depth, "regtest")
	if a.Size != 7 || a.TxID != tx2.TxHash().String() || a.Height != forkHeight+1 || a.Bitcoin == nil {
		t.Fatalf("anchor = %+v", a)
	}
	checkAttestation(t, a.Bitcoin, mined, tx2)

	// A reorganization two blocks deep drops the block.
	s.disconnect(now.Add(time.Minute))
	s.disconnect(now.Add(time.Minute))
	if r.Mined != nil || s.status(r) != service.AnchorMempool || !r.Pending.Equal(now.Add(time.Minute)) {
		t.Fatalf("after the reorg: mined %v, status %v, pending %v", r.Mined, s.status(r), r.Pending)
	}
	if cc := s.f.coins[c.OutPoint]; cc == nil || cc.Spent {
		t.Fatalf("the anchor's coin after the reorg = %+v, want unspent", cc)
	}
	if b.tipHash() != forkBase {
		t.Fatal("tip is not the fork point")
	}

	// The competing chain: an empty block, then the first version of the anchor.
	connect(otherScript)
	connect(otherScript, tx1)
	if s.status(r) != service.AnchorConfirmed || r.Current != 0 || r.effective().Size != 5 {
		t.Fatalf("mined again: status %v, current %d, size %d; want version 0 (size 5)", s.status(r), r.Current, r.effective().Size)
	}
	connect(otherScript)
	if s.status(r) != service.AnchorConfirmed {
		t.Fatalf("2 confirmations: %v", s.status(r))
	}
	connect(otherScript)
	if s.status(r) != service.AnchorFinal || len(s.pending()) != 0 {
		t.Fatalf("3 confirmations at depth 3: %v", s.status(r))
	}
	if s.anchoredSize() != 5 {
		t.Errorf("anchoredSize() = %d, want 5 (the mined version's)", s.anchoredSize())
	}
	if !s.dirty[r.ID] || !s.walletDirty {
		t.Error("changes not marked for saving")
	}
}

func TestStateAbandon(t *testing.T) {
	key := newTestKey(t)
	script := pkScript(key)
	s := newState(newFollower(script, 0, 0), nil, 1)
	b := &chainBuilder{t: t, f: s.f}
	funding, _ := b.add(script)
	for range 99 {
		b.add(otherScript)
	}
	op := coinbaseOut(funding)
	tx, _ := buildAnchorTx(key, spendable{OutPoint: op, Value: 50e8}, Payload(nil, rootOf(1)), 200)
	r := &record{ID: 1, OutPoint: op, Value: 50e8, Versions: []*version{{Tx: serialize(tx), TxID: tx.TxHash(), Size: 1}}}
	s.add(r)

	// Someone else spends the coin.
	h := s.f.nextHeight()
	if err := s.connect(h, makeBlock(b.tipHash(), h, otherScript, spendTx(op, 1e8, otherScript))); err != nil {
		t.Fatal(err)
	}
	if r.live() {
		t.Fatal("record live after its coin was spent by another transaction")
	}
	if len(s.pending()) != 0 || s.anchoredSize() != 0 {
		t.Error("an abandoned record counts")
	}

	// A record whose coin vanished (reorganized away).
	s2 := newState(newFollower(script, 0, 0), []*record{{ID: 1, OutPoint: wire.OutPoint{Index: 3}, Versions: r.Versions}}, 1)
	s2.checkCoins()
	if s2.records[0].live() {
		t.Error("record live without its coin")
	}
}

func checkAttestation(t *testing.T, att *service.BitcoinAttestation, blk *wire.MsgBlock, tx *wire.MsgTx) {
	t.Helper()
	if txid := merkle.DoubleSHA256(att.Tx); chainhash.Hash(txid) != tx.TxHash() {
		t.Errorf("attestation tx hashes to %x, want txid %v", txid, tx.TxHash())
	}
	txid := merkle.Hash(tx.TxHash())
	root := merkle.BlockRootFromBranch(txid, att.TxIndex, att.Branch)
	if root != merkle.Hash(blk.Header.MerkleRoot) {
		t.Errorf("branch leads to %x, header has %x", root, blk.Header.MerkleRoot)
	}
	if got := notary.Header(att.Header).Hash(); chainhash.Hash(got) != blk.BlockHash() {
		t.Errorf("header hashes to %x, block is %v", got, blk.BlockHash())
	}
}

// TestStateClaim checks who a mined transaction belongs to when several records
// spend one coin: deterministic signing makes a retried anchor identical to the
// refused one it replaces.
func TestStateClaim(t *testing.T) {
	key := newTestKey(t)
	script := pkScript(key)
	setup := func() (*state, *chainBuilder, wire.OutPoint) {
		s := newState(newFollower(script, 0, 0), nil, 1)
		b := &chainBuilder{t: t, f: s.f}
		funding, _ := b.add(script)
		for range 99 {
			b.add(otherScript)
		}
		return s, b, coinbaseOut(funding)
	}
	mine := func(s *state, b *chainBuilder, tx *wire.MsgTx) {
		h := s.f.nextHeight()
		if err := s.connect(h, makeBlock(b.tipHash(), h, otherScript, tx)); err != nil {
			t.Fatal(err)
		}
	}
	versionOf := func(tx *wire.MsgTx, size int64) *version {
		return &version{Tx: serialize(tx), TxID: tx.TxHash(), Size: size}
	}

	t.Run("live record wins over an identical abandoned one", func(t *testing.T) {
		s, b, op := setup()
		tx, _ := buildAnchorTx(key, spendable{OutPoint: op, Value: 50e8}, Payload(nil, rootOf(1)), 200)
		old := &record{ID: 1, OutPoint: op, Versions: []*version{versionOf(tx, 1)}, Abandoned: "refused"}
		retry := &record{ID: 2, OutPoint: op, Versions: []*version{versionOf(tx, 1)}}
		s.add(old)
		s.add(retry)
		mine(s, b, tx)
		if old.live() || old.Mined != nil || retry.Mined == nil || !retry.live() {
			t.Errorf("old: live %v mined %v; retry: live %v mined %v", old.live(), old.Mined != nil, retry.live(), retry.Mined != nil)
		}
	})

	t.Run("abandoned record revived", func(t *testing.T) {
		s, b, op := setup()
		tx1, _ := buildAnchorTx(key, spendable{OutPoint: op, Value: 50e8}, Payload(nil, rootOf(1)), 200)
		tx2, _ := buildAnchorTx(key, spendable{OutPoint: op, Value: 50e8}, Payload(nil, rootOf(2)), 200)
		old := &record{ID: 1, OutPoint: op, Versions: []*version{versionOf(tx1, 1)}, Abandoned: "refused"}
		other := &record{ID: 2, OutPoint: op, Versions: []*version{versionOf(tx2, 2)}}
		s.add(old)
		s.add(other)
		mine(s, b, tx1)
		if !old.live() || old.Mined == nil {
			t.Error("the abandoned record whose transaction was mined is not revived")
		}
		if other.live() {
			t.Error("the record whose coin another record spent is still live")
		}
		if s.anchoredSize() != 1 || len(s.pending()) != 0 {
			t.Errorf("anchoredSize %d, %d pending", s.anchoredSize(), len(s.pending()))
		}
	})
}
