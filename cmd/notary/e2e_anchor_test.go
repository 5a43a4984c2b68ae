package main

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// TestE2ERestartMidAnchor stops the stack while its anchoring transaction waits in the
// mempool and starts a new one on the same data directory: the new stack keeps every
// acknowledged entry at its index and completes the same transaction, spending no coin twice,
// on each store.
func TestE2ERestartMidAnchor(t *testing.T) {
	t.Parallel()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			testRestartMidAnchor(t, st.db(t))
		})
	}
}

func testRestartMidAnchor(t *testing.T, db string) {
	c := startChain(t)
	s1 := startStack(t, c, stackOptions{db: db})

	// Batch a: in the checkpoint before the key is funded, so the first anchor covers it.
	a := make([]notary.Digest, 10)
	receipts := map[notary.Digest]api.TimestampView{}
	for i := range a {
		a[i] = randomDigest(t)
		receipts[a[i]] = mustSubmit(t, s1.url, a[i])
	}
	waitCheckpoint(t, s1.url, int64(len(a)))
	c.mine(t, matureBlocks)
	ts := waitBroadcast(t, c, s1.url, a[len(a)-1])
	txid := ts.Anchor.TxID
	if ts.Anchor.LogSize != int64(len(a)) {
		t.Fatalf("the first anchor commits size %d, want %d", ts.Anchor.LogSize, len(a))
	}
	if pool := c.mempool(t); !slices.Equal(pool, []string{txid}) {
		t.Fatalf("mempool %v before the restart; want just the anchor %s", pool, txid)
	}

	// Batch b: acknowledged after the broadcast, and not waiting for a checkpoint.
	b := make([]notary.Digest, 5)
	for i := range b {
		b[i] = randomDigest(t)
		receipts[b[i]] = mustSubmit(t, s1.url, b[i])
	}
	all := slices.Concat(a, b)

	s1.stop(t)
	if _, err := lookup(s1.url, a[0]); err == nil {
		t.Fatal("the stopped stack still answers")
	}

	s2 := startStack(t, c, stackOptions{db: db})
	for _, d := range all {
		ts := mustLookup(t, s2.url, d)
		r := receipts[d]
		if ts.Index != r.Index || ts.ReceivedMS != r.ReceivedMS || ts.LeafHash != r.LeafHash {
			t.Errorf("after the restart %s is entry %d received at %d ms; it was acknowledged as %d at %d ms",
				d, ts.Index, ts.ReceivedMS, r.Index, r.ReceivedMS)
		}
	}
	// The restarted anchorer reports the saved transaction as signed until the node
	// acknowledges it again.
	for _, d := range a {
		waitFor(t, waitLimit, "the saved anchor to be acknowledged after the restart", func() (bool, error) {
			ts := mustLookup(t, s2.url, d)
			if ts.Anchor != nil && ts.Anchor.TxID != txid {
				return false, fmt.Errorf("after the restart %s is anchored by %s; want %s", d, ts.Anchor.TxID, txid)
			}
			return inMempool(ts), nil
		})
	}
	if r := mustSubmit(t, s2.url, a[0]); r.Index != receipts[a[0]].Index || r.ReceivedMS != receipts[a[0]].ReceivedMS {
		t.Errorf("%s submitted again after the restart: entry %d at %d ms, first acknowledged as %d at %d ms",
			a[0], r.Index, r.ReceivedMS, receipts[a[0]].Index, receipts[a[0]].ReceivedMS)
	}
	if anchors := s2.anc.Anchors(); len(anchors) != 1 || anchors[0].TxID != txid || anchors[0].Replacements != 0 {
		t.Fatalf("after the restart the anchorer has %+v; want the one anchor %s", anchors, txid)
	}
	// Entries a checkpoint did not hold at the stop still reach one.
	waitCheckpoint(t, s2.url, int64(len(all)))

	final := mineUntilConfirmed(t, c, s2.url, all)
	var second string
	for _, d := range all {
		ts := final[d]
		v, err := notary.Verify(ts.Proof, ts.Proof.OwnKey())
		if err != nil || !v.Complete {
			t.Fatalf("proof of %s: %v", d, err)
		}
		if v.Index != receipts[d].Index {
			t.Errorf("proof of %s is for entry %d, acknowledged as %d", d, v.Index, receipts[d].Index)
		}
		got := notary.ReverseHex(v.TxID)
		switch {
		case slices.Contains(a, d):
			if got != txid {
				t.Errorf("%s (batch a) confirmed in %s, broadcast before the restart as %s", d, got, txid)
			}
		case second == "":
			second = got
			if second == txid {
				t.Errorf("%s (batch b, logged after the broadcast) confirmed in the first anchor %s", d, txid)
			}
		case got != second:
			t.Errorf("%s (batch b) confirmed in %s, the rest of b in %s", d, got, second)
		}
	}

	// The block holds the coinbase and that one anchoring transaction: no replacement, no
	// second spend of the coin.
	first := final[a[0]].Proof.Bitcoin
	var blk struct {
		Tx []string `json:"tx"`
	}
	c.call(t, &blk, "getblock", notary.ReverseHex(notary.Header(first.Header).Hash()), 1)
	if len(blk.Tx) != 2 || blk.Tx[1] != txid {
		t.Errorf("the anchoring block holds %v; want the coinbase and %s", blk.Tx, txid)
	}
	anchors := s2.anc.Anchors()
	if len(anchors) != 2 || anchors[1].TxID != txid || anchors[0].TxID != second {
		t.Fatalf("anchors %+v; want %s then %s", anchors, txid, second)
	}
	for _, an := range anchors {
		if an.Replacements != 0 || an.Status != service.AnchorFinal {
			t.Errorf("anchor %s: %d replacement(s), status %s; want none, final", an.TxID, an.Replacements, an.Status)
		}
	}
	in1 := spentOutpoint(t, first.Tx)
	in2 := spentOutpoint(t, final[b[0]].Proof.Bitcoin.Tx)
	if in1 == in2 {
		t.Errorf("both anchors spend %v", in1)
	}
	if pool := c.mempool(t); len(pool) != 0 {
		t.Errorf("mempool %v once everything is confirmed; want it empty", pool)
	}

	for _, d := range []notary.Digest{a[0], b[len(b)-1]} {
		path := writeProofFile(t, t.TempDir(), "restart.proof.json", final[d].Proof)
		wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), "--digest", d.String(), path)
	}
}

// spentOutpoint returns the single input of an anchoring transaction.
func spentOutpoint(t *testing.T, raw []byte) wire.OutPoint {
	t.Helper()
	var tx wire.MsgTx
	if err := tx.DeserializeNoWitness(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if len(tx.TxIn) != 1 {
		t.Fatalf("anchoring transaction %s has %d inputs, want 1", tx.TxHash(), len(tx.TxIn))
	}
	return tx.TxIn[0].PreviousOutPoint
}

// TestE2ENodeDown stops the Bitcoin node under a running stack: logging and lookups go on,
// anchoring waits, and the stack still shuts down cleanly.
func TestE2ENodeDown(t *testing.T) {
	t.Parallel()
	c := startChain(t)
	c.mine(t, matureBlocks)
	s := startStack(t, c, stackOptions{})

	before := randomDigest(t)
	mustSubmit(t, s.url, before)
	waitBroadcast(t, c, s.url, before)

	failures := strings.Count(s.logs.String(), "anchor: step failed")
	if err := c.node.Stop(); err != nil {
		t.Fatal(err)
	}

	after := make([]notary.Digest, 10)
	for i := range after {
		after[i] = randomDigest(t)
		mustSubmit(t, s.url, after[i])
	}
	// The anchorer notices the outage.
	waitFor(t, waitLimit, "logging a failed anchoring step", func() (bool, error) {
		return strings.Count(s.logs.String(), "anchor: step failed") > failures, nil
	})
	for _, d := range after {
		ts := waitStatus(t, s.url, d, "in a checkpoint", func(ts api.TimestampView) bool { return ts.Proof != nil })
		if ts.Status != service.StatusPending || ts.Anchor != nil || ts.Proof.Complete() {
			t.Errorf("%s with the node down: status %s, anchor %+v; want pending", d, ts.Status, ts.Anchor)
		}
		if _, err := notary.Verify(ts.Proof, ts.Proof.OwnKey()); err != nil {
			t.Errorf("pending proof of %s: %v", d, err)
		}
	}
	if ts := mustLookup(t, s.url, before); ts.Status != service.StatusAnchored {
		t.Errorf("%s, broadcast before the outage: status %s, want anchored", before, ts.Status)
	}
	select {
	case <-s.done:
		t.Fatalf("runStack returned with the node down: %v", s.err)
	default:
	}
	// Still taking work, and a duplicate still gets its entry.
	r1 := mustSubmit(t, s.url, randomDigest(t))
	if r2 := mustSubmit(t, s.url, after[0]); r2.Index == r1.Index {
		t.Errorf("a resubmitted digest got the newest index %d", r2.Index)
	}
	resp, err := httpClient.Get(s.url + "/v1/checkpoint")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/checkpoint with the node down: %v %v", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}

	// It stops without hanging (stop fails the test after waitLimit) and returns no error;
	// its HTTP server drains every connection rather than giving up on one.
	s.stop(t)
	if strings.Contains(s.logs.String(), `msg="http shutdown"`) {
		t.Errorf("the HTTP server did not drain at the stop with the node down:\n%s", s.logs.String())
	}
}

// TestE2ENodeUnreachable makes the node first hang, then refuse connections, while the chain
// moves on without the notary; once the node is reachable again the notary catches up:
// the anchor mined meanwhile completes its proofs, and entries logged during the outage are
// anchored next.
func TestE2ENodeUnreachable(t *testing.T) {
	t.Parallel()
	c := startChain(t)
	c.mine(t, matureBlocks)
	p := startProxy(t, c.node.RPCHost())
	s := startStack(t, c, stackOptions{nodeHost: p.addr()})

	before := randomDigest(t)
	mustSubmit(t, s.url, before)
	txid := waitBroadcast(t, c, s.url, before).Anchor.TxID

	// A node that takes requests and never answers: the anchorer waits on it, nothing else
	// does. A submission and a lookup that begin and end while the anchorer's request is held
	// unanswered did not wait for the node. One that spans the end of that request (the
	// anchorer gives up on it after its call timeout) shows nothing either way: it is done
	// again, so that however slow the machine is, only a wait on the node fails the test.
	p.set(proxyHang)
	var during []notary.Digest
	shown := 0
	for deadline := time.Now().Add(waitLimit); len(during) < 5 || shown == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("after %v, no submission and lookup came back while the anchorer's request to the node was held", waitLimit)
		}
		var held int32
		waitFor(t, waitLimit, "holding an anchorer's request", func() (ok bool, err error) {
			held, ok = p.holding()
			return ok, nil
		})
		d := randomDigest(t)
		during = append(during, d)
		mustSubmit(t, s.url, d)
		ts := mustLookup(t, s.url, before)
		if p.stillHeld(held) {
			shown++
		}
		if !inMempool(ts) || ts.Anchor.TxID != txid {
			t.Errorf("%s while the node hangs: %s, anchor %+v", before, ts.Status, ts.Anchor)
		}
	}
	t.Logf("%d of %d submissions and lookups came back while the anchorer's request was held", shown, len(during))
	// The chain moves on: the anchor is mined, unseen by the notary.
	c.mine(t, 1)
	p.set(proxyRefuse)
	failures := strings.Count(s.logs.String(), "anchor: step failed")
	waitFor(t, waitLimit, "logging a failed anchoring step", func() (bool, error) {
		return strings.Count(s.logs.String(), "anchor: step failed") > failures, nil
	})
	for _, d := range during {
		ts := waitStatus(t, s.url, d, "in a checkpoint", func(ts api.TimestampView) bool { return ts.Proof != nil })
		if ts.Status != service.StatusPending {
			t.Errorf("%s logged during the outage: status %s, want pending", d, ts.Status)
		}
	}

	p.set(proxyUp)
	ts := waitStatus(t, s.url, before, "confirmed once the node is back", func(ts api.TimestampView) bool {
		return ts.Status == service.StatusConfirmed
	})
	if ts.Anchor.TxID != txid {
		t.Errorf("%s confirmed in %s, broadcast as %s", before, ts.Anchor.TxID, txid)
	}
	final := mineUntilConfirmed(t, c, s.url, during)
	for _, d := range append([]notary.Digest{before}, during...) {
		pr := ts.Proof
		if d != before {
			pr = final[d].Proof
		}
		path := writeProofFile(t, t.TempDir(), "outage.proof.json", pr)
		wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), "--digest", d.String(), path)
	}
	if anchors := s.anc.Anchors(); len(anchors) != 2 || anchors[1].TxID != txid {
		t.Errorf("anchors %+v; want %s and one more", anchors, txid)
	}
}

// TestE2EBroadcastFails makes the node drop every sendrawtransaction call: the anchor is
// built and saved but never reaches the node. The service must not report it as accepted by
// the node, and once the node takes transactions again the saved one is sent and mined.
func TestE2EBroadcastFails(t *testing.T) {
	t.Parallel()
	c := startChain(t)
	c.mine(t, matureBlocks)
	f := startRPCFilter(t, c.node.RPCHost())
	f.setDrop("sendrawtransaction", true)
	s := startStack(t, c, stackOptions{nodeHost: f.addr()})

	d := randomDigest(t)
	mustSubmit(t, s.url, d)
	waitFor(t, waitLimit, "trying to broadcast twice", func() (bool, error) {
		return f.count("sendrawtransaction") >= 2, nil
	})
	if pool := c.mempool(t); len(pool) != 0 {
		t.Fatalf("mempool %v, yet every broadcast was dropped", pool)
	}
	ts := mustLookup(t, s.url, d)
	if ts.Anchor == nil {
		t.Fatalf("no anchor reported for %s after broadcasts were attempted: %+v", d, ts)
	}
	txid := ts.Anchor.TxID
	// service.AnchorMempool means "the node accepted the anchoring transaction".
	if ts.Anchor.Status == service.AnchorMempool {
		t.Errorf("the lookup reports anchor %s as %q (accepted by the node), but the node never received it", txid, ts.Anchor.Status)
	}

	f.setDrop("sendrawtransaction", false)
	waitFor(t, waitLimit, "the saved transaction in the node's mempool", func() (bool, error) {
		return slices.Equal(c.mempool(t), []string{txid}), nil
	})
	final := mineUntilConfirmed(t, c, s.url, []notary.Digest{d})[d]
	if final.Anchor.TxID != txid || final.Anchor.Replacements != 0 {
		t.Errorf("confirmed in %s with %d replacement(s); want the saved %s", final.Anchor.TxID, final.Anchor.Replacements, txid)
	}
	path := writeProofFile(t, t.TempDir(), "late.proof.json", final.Proof)
	wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), path)
}
