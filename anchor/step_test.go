package anchor

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/notary-dev/notary/service"
)

// These tests drive the Anchorer against fakeNode, synthetic blocks in memory, to
// cover the decision logic; the integration tests do the same against btcd.

type fakeRig struct {
	t     *testing.T
	node  *fakeNode
	store *memStore
	cps   *fakeCheckpoints
	clock *fakeClock
	cfg   Config
	a     *Anchorer
}

func newFakeRig(t *testing.T, mod func(*Config)) *fakeRig {
	t.Helper()
	key := newTestKey(t)
	r := &fakeRig{t: t, node: newFakeNode(pkScript(key)), store: newMemStore(), cps: &fakeCheckpoints{}, clock: newFakeClock()}
	r.cfg = Config{
		Params: &chaincfg.RegressionNetParams, Key: key, Node: r.node, Store: r.store, Checkpoints: r.cps,
		Interval: time.Minute, BumpAfter: 10 * time.Minute, Depth: 1, Now: r.clock.Now,
		Tag: []byte("test"),
	}
	if mod != nil {
		mod(&r.cfg)
	}
	r.node.mine(101) // two mature coinbase coins
	r.a = r.reopen()
	return r
}

// reopen returns a new Anchorer on the same store, as after a restart.
func (r *fakeRig) reopen() *Anchorer {
	r.t.Helper()
	a, err := New(context.Background(), r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	return a
}

func (r *fakeRig) step() {
	r.t.Helper()
	if err := r.a.Step(context.Background()); err != nil {
		r.t.Fatalf("Step: %v", err)
	}
}

func (r *fakeRig) only() service.Anchor {
	r.t.Helper()
	as := r.a.Anchors()
	if len(as) != 1 {
		r.t.Fatalf("%d anchors, want 1: %+v", len(as), as)
	}
	return as[0]
}

func TestStepLifecycle(t *testing.T) {
	r := newFakeRig(t, nil)
	r.step()
	w, _ := r.a.Wallet(context.Background())
	if w.Coins != 101 || w.Spendable != 2*50e8 || w.Height != 101 || !w.Synced {
		t.Fatalf("wallet = %+v; want 101 coins, 2 spendable, height 101", w)
	}
	if len(r.a.Anchors()) != 0 {
		t.Fatal("anchor without a checkpoint")
	}

	// The record is saved before the transaction reaches the node.
	r.node.reject = func(tx *wire.MsgTx) error {
		if r.store.recordCount() == 0 {
			t.Error("broadcast before the record was saved")
		}
		return nil
	}
	r.cps.set(10)
	r.step()
	a := r.only()
	if a.Status != service.AnchorMempool || a.Size != 10 || a.Root != rootOf(10) || a.Bitcoin != nil {
		t.Fatalf("anchor = %+v", a)
	}
	if mp := r.node.mempoolTxIDs(); len(mp) != 1 || mp[0].String() != a.TxID {
		t.Fatalf("mempool %v, want %s", mp, a.TxID)
	}
	if got, _ := r.a.Covering(context.Background(), 9); got == nil || got.ID != a.ID {
		t.Errorf("Covering(9) = %+v, want the pending anchor", got)
	}
	if got, _ := r.a.Covering(context.Background(), 10); got != nil {
		t.Errorf("Covering(10) = %+v, want nil", got)
	}

	// Stepping again rebroadcasts (the node already has it) and creates nothing.
	r.step()
	if len(r.a.Anchors()) != 1 || len(r.node.sent) != 2 {
		t.Fatalf("second step: %d anchors, %d sends", len(r.a.Anchors()), len(r.node.sent))
	}

	r.node.mine(1)
	r.step()
	a = r.only()
	if a.Status != service.AnchorFinal || a.Height != 102 || a.Confirmations != 1 || a.Bitcoin == nil {
		t.Fatalf("after a block: %+v", a)
	}
	if a.Bitcoin.Network != "regtest" || a.Bitcoin.Height != 102 || a.Bitcoin.TxIndex != 1 {
		t.Errorf("attestation = %+v", a.Bitcoin)
	}

	// A restarted anchorer sees the same.
	again := r.reopen()
	if !reflect.DeepEqual(again.Anchors(), r.a.Anchors()) {
		t.Errorf("after reopening: %+v, want %+v", again.Anchors(), r.a.Anchors())
	}

	// A newer checkpoint waits for Interval.
	r.cps.set(20)
	r.step()
	if len(r.a.Anchors()) != 1 {
		t.Fatal("new anchor before Interval")
	}
	r.clock.advance(time.Minute)
	r.step()
	if as := r.a.Anchors(); len(as) != 2 || as[0].Size != 20 || as[0].Status != service.AnchorMempool {
		t.Fatalf("anchors = %+v, want a new pending one of size 20 first", as)
	}
	if got, _ := r.a.Covering(context.Background(), 9); got == nil || got.Size != 10 || got.Status != service.AnchorFinal {
		t.Errorf("Covering(9) = %+v, want the final anchor of size 10", got)
	}
	if got, _ := r.a.Covering(context.Background(), 15); got == nil || got.Size != 20 {
		t.Errorf("Covering(15) = %+v, want the pending anchor of size 20", got)
	}
}

func TestStepBump(t *testing.T) {
	r := newFakeRig(t, nil)
	r.step()
	r.cps.set(10)
	r.step()
	first := r.only()

	r.clock.advance(9 * time.Minute)
	r.cps.set(11)
	r.step()
	if a := r.only(); a.TxID != first.TxID {
		t.Fatal("bumped before BumpAfter")
	}
	r.clock.advance(time.Minute)
	r.step()
	bumped := r.only()
	if bumped.TxID == first.TxID || bumped.Size != 11 || bumped.Replacements != 1 || bumped.Fee <= first.Fee {
		t.Fatalf("after BumpAfter: %+v (first %+v)", bumped, first)
	}
	if mp := r.node.mempoolTxIDs(); len(mp) != 1 || mp[0].String() != bumped.TxID {
		t.Fatalf("mempool %v, want the replacement only", mp)
	}
	r.node.mine(1)
	r.step()
	if a := r.only(); a.Status != service.AnchorFinal || a.TxID != bumped.TxID || a.Size != 11 {
		t.Fatalf("mined: %+v", a)
	}
}

func TestStepBumpRefused(t *testing.T) {
	r := newFakeRig(t, nil)
	r.step()
	r.cps.set(10)
	r.step()
	first := r.only()

	r.node.reject = func(*wire.MsgTx) error { return ErrTxRejected }
	r.clock.advance(10 * time.Minute)
	if err := r.a.Step(context.Background()); !errors.Is(err, ErrTxRejected) {
		t.Fatalf("Step with the replacement refused: %v, want ErrTxRejected", err)
	}
	if a := r.only(); a.TxID != first.TxID || a.Replacements != 0 || a.Status != service.AnchorMempool {
		t.Fatalf("after a refused replacement: %+v, want the first version", a)
	}
	again := r.reopen()
	if a := again.Anchors()[0]; a.TxID != first.TxID {
		t.Errorf("reopened: current %s, want %s", a.TxID, first.TxID)
	}
}

func TestStepFirstVersionRefused(t *testing.T) {
	r := newFakeRig(t, nil)
	r.step()
	r.cps.set(10)
	r.node.reject = func(*wire.MsgTx) error { return ErrTxRejected }
	if err := r.a.Step(context.Background()); !errors.Is(err, ErrTxRejected) {
		t.Fatalf("Step: %v, want ErrTxRejected", err)
	}
	if len(r.a.Anchors()) != 0 {
		t.Fatal("a refused anchor is listed")
	}
	r.node.reject = nil
	r.clock.advance(time.Minute)
	r.step()
	if a := r.only(); a.ID != 2 || a.Status != service.AnchorMempool {
		t.Fatalf("retry: %+v", a)
	}
}

func TestStepFeeCap(t *testing.T) {
	r := newFakeRig(t, func(c *Config) { c.FeeFloor, c.FeeCap = 5, 5 })
	r.step()
	r.cps.set(10)
	r.step()
	first := r.only()
	r.clock.advance(10 * time.Minute)
	sent := len(r.node.sent)
	if err := r.a.Step(context.Background()); !errors.Is(err, ErrFeeCap) {
		t.Fatalf("Step at the cap: %v, want ErrFeeCap", err)
	}
	if a := r.only(); a.TxID != first.TxID || len(r.node.sent) != sent+1 {
		t.Errorf("at the cap: %+v, %d sends; want the first version rebroadcast", a, len(r.node.sent)-sent)
	}
}

func TestStepSaveFailureBlocksBroadcast(t *testing.T) {
	r := newFakeRig(t, nil)
	r.step()
	r.cps.set(10)
	r.store.fail = func(recs []StoredRecord, _ []byte) error {
		if len(recs) > 0 {
			return errors.New("disk full")
		}
		return nil
	}
	if err := r.a.Step(context.Background()); err == nil {
		t.Fatal("Step succeeded with the store failing")
	}
	if len(r.node.sent) != 0 || len(r.a.Anchors()) != 0 {
		t.Fatalf("%d sends, %d anchors after a failed save; want none", len(r.node.sent), len(r.a.Anchors()))
	}
	r.store.fail = nil
	r.step()
	if a := r.only(); a.ID != 1 || len(r.node.sent) != 1 {
		t.Fatalf("after the store recovered: %+v, %d sends", a, len(r.node.sent))
	}
}

func TestStepNodeDown(t *testing.T) {
	r := newFakeRig(t, nil)
	r.step()
	r.cps.set(10)
	r.node.setDown(true)
	if err := r.a.Step(context.Background()); !errors.Is(err, errDown) {
		t.Fatalf("Step with the node down: %v", err)
	}
	r.node.setDown(false)
	r.step()
	r.only()
}

// TestStepReorgs reorganizes the fake chain under an anchor: one block deep, then
// deeper than the kept block hashes (a rescan), then a whole new chain (regtest
// restarted), which abandons the anchor.
func TestStepReorgs(t *testing.T) {
	r := newFakeRig(t, func(c *Config) { c.keepBlocks = 5; c.Depth = 2 })
	r.step()
	r.cps.set(10)
	r.step()
	r.node.mine(1)
	r.step()
	a := r.only()
	if a.Status != service.AnchorConfirmed || a.Height != 102 {
		t.Fatalf("mined: %+v", a)
	}

	t.Run("one block", func(t *testing.T) {
		r.node.fork(101, 2, false) // the anchor returns to the mempool
		r.step()
		if a := r.only(); a.Status != service.AnchorMempool || a.Bitcoin != nil {
			t.Fatalf("after the reorg: %+v", a)
		}
		if mp := r.node.mempoolTxIDs(); len(mp) != 1 || mp[0].String() != a.TxID {
			t.Fatalf("mempool %v", mp)
		}
		r.node.mine(2)
		r.step()
		if a := r.only(); a.Status != service.AnchorFinal || a.Height != 104 {
			t.Fatalf("mined again: %+v", a)
		}
	})

	t.Run("deeper than the kept blocks", func(t *testing.T) {
		tx, err := parseTx(r.a.st.records[0].Versions[0].Tx)
		if err != nil {
			t.Fatal(err)
		}
		// The follower keeps blocks 100..104; the new chain forks below them, at 97,
		// and carries the anchor in its first block.
		r.node.fork(97, 15, true, tx)
		r.step()
		if a := r.only(); a.Status != service.AnchorFinal || a.Height != 98 || a.Confirmations != 15 {
			t.Fatalf("after the rescan: %+v", a)
		}
		if w, _ := r.a.Wallet(context.Background()); w.Height != 112 || !w.Synced {
			t.Errorf("wallet after the rescan: %+v", w)
		}
	})

	t.Run("new chain", func(t *testing.T) {
		fresh := newFakeNode(otherScript)
		fresh.mine(3)
		r.node.mu.Lock()
		r.node.chain, r.node.mempool = fresh.chain, nil
		r.node.mu.Unlock()
		r.step()
		if as := r.a.Anchors(); len(as) != 0 {
			t.Fatalf("anchors on a chain without our coins: %+v", as)
		}
		if w, _ := r.a.Wallet(context.Background()); w.Coins != 0 || w.Height != 3 {
			t.Errorf("wallet on the new chain: %+v", w)
		}
	})
}

func TestNewValidates(t *testing.T) {
	key := newTestKey(t)
	good := Config{Params: &chaincfg.RegressionNetParams, Key: key, Node: newFakeNode(nil), Store: newMemStore(), Checkpoints: &fakeCheckpoints{}}
	if _, err := New(context.Background(), good); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		mod  func(*Config)
	}{
		{"no params", func(c *Config) { c.Params = nil }},
		{"no key", func(c *Config) { c.Key = nil }},
		{"no node", func(c *Config) { c.Node = nil }},
		{"no store", func(c *Config) { c.Store = nil }},
		{"no checkpoints", func(c *Config) { c.Checkpoints = nil }},
		{"long tag", func(c *Config) { c.Tag = make([]byte, MaxTagSize+1) }},
		{"cap below floor", func(c *Config) { c.FeeFloor, c.FeeCap = 10, 5 }},
		{"negative start", func(c *Config) { c.StartHeight = -1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mod(&c)
			if _, err := New(context.Background(), c); err == nil {
				t.Error("New accepted it")
			}
		})
	}

	t.Run("another key", func(t *testing.T) {
		r := newFakeRig(t, nil)
		r.step()
		c := r.cfg
		c.Key = newTestKey(t)
		if _, err := New(context.Background(), c); !errors.Is(err, ErrKeyMismatch) {
			t.Errorf("New with another key: %v, want ErrKeyMismatch", err)
		}
	})
}

// TestRunStopsWithContext runs on synctest's clock, so that "at once" is exact: Run
// returns when its context ends, not a poll later, however slow the machine.
func TestRunStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newFakeRig(t, func(c *Config) { c.Poll = 20 * time.Millisecond })
		r.node.setDown(true)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := r.a.Run(ctx); err != nil {
			t.Errorf("Run() = %v, want nil at cancellation", err)
		}
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Errorf("Run returned %v after it started, want 50ms: when its context ended", d)
		}
	})
}
