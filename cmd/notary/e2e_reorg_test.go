package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/btcdnode"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// TestE2EReorg mines the notary's anchor on its node, then lets a longer chain mined
// elsewhere without it replace that block: the anchor goes back to waiting, a proof saved
// before no longer checks against the node, and the next block completes it again, on
// each store.
func TestE2EReorg(t *testing.T) {
	t.Parallel()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			testReorg(t, st.db(t))
		})
	}
}

func testReorg(t *testing.T, db string) {
	c := startChainWith(t, btcdnode.Options{Listen: true})
	rival := startChainWith(t, btcdnode.Options{Listen: true})
	ctx := context.Background()

	c.mine(t, matureBlocks)
	// The rival node shares the first blocks, then goes its own way.
	if err := rival.node.ConnectPeer(ctx, c.node.P2PAddr()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, waitLimit, "synced to the same chain", func() (bool, error) {
		return rival.bestHash(t) == c.bestHash(t), nil
	})
	if err := rival.node.DisconnectPeer(ctx, c.node.P2PAddr()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, waitLimit, "disconnected", func() (bool, error) {
		var peers []json.RawMessage
		c.call(t, &peers, "getpeerinfo")
		return len(peers) == 0, nil
	})

	s := startStack(t, c, stackOptions{db: db})
	d := randomDigest(t)
	mustSubmit(t, s.url, d)
	txid := waitBroadcast(t, c, s.url, d).Anchor.TxID
	c.mine(t, 1)
	ts := waitStatus(t, s.url, d, "confirmed", func(ts api.TimestampView) bool { return ts.Status == service.StatusConfirmed })
	dir := t.TempDir()
	before := writeProofFile(t, dir, "before.proof.json", ts.Proof)
	v1, err := notary.Verify(ts.Proof, ts.Proof.OwnKey())
	if err != nil {
		t.Fatal(err)
	}
	wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), before)

	// A longer rival chain without the anchor: the notary's node follows it.
	rival.mine(t, 2)
	if slices.Contains(rival.mempool(t), txid) {
		t.Fatal("the anchor reached the rival node; the test needs it not to")
	}
	if err := c.node.ConnectPeer(ctx, rival.node.P2PAddr()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, waitLimit, "reorganized to the rival chain", func() (bool, error) {
		return c.bestHash(t) == rival.bestHash(t), nil
	})

	ts = waitBroadcast(t, c, s.url, d)
	if ts.Anchor.TxID != txid {
		t.Errorf("after the reorganization the anchor is %s, was %s", ts.Anchor.TxID, txid)
	}
	if ts.Proof == nil || ts.Proof.Complete() {
		t.Errorf("after the reorganization the service still serves a complete proof")
	}
	_, stderr := wantCLI(t, exitInvalid, "verify", "--node", c.rpcURL(), before)
	want := fmt.Sprintf("at height %d, not the proof's %s", v1.Height, notary.ReverseHex(v1.BlockHash))
	if line := errLine(stderr); !strings.Contains(line, "your node has block") || !strings.Contains(line, want) {
		t.Errorf("verify --node of a proof whose block was reorganized out:\n%s", stderr)
	}

	final := mineUntilConfirmed(t, c, s.url, []notary.Digest{d})[d]
	v2, err := notary.Verify(final.Proof, final.Proof.OwnKey())
	if err != nil {
		t.Fatal(err)
	}
	if notary.ReverseHex(v2.TxID) != txid || v2.BlockHash == v1.BlockHash {
		t.Errorf("confirmed again in %s, block %s; want %s in a new block (was %s)",
			notary.ReverseHex(v2.TxID), notary.ReverseHex(v2.BlockHash), txid, notary.ReverseHex(v1.BlockHash))
	}
	after := writeProofFile(t, dir, "after.proof.json", final.Proof)
	wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), after)
	if anchors := s.anc.Anchors(); len(anchors) != 1 || anchors[0].Replacements != 0 {
		t.Errorf("anchors %+v; want the one anchor, never replaced", anchors)
	}
}
