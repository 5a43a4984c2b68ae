package btcdnode_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/notary-dev/notary/internal/bitcoinrpc"
	"github.com/notary-dev/notary/internal/btcdnode"
	"github.com/notary-dev/notary/internal/btcdnode/btcdtest"
)

func p2wpkh(t *testing.T, params *chaincfg.Params) string {
	t.Helper()
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	addr, err := address.NewAddressWitnessPubKeyHash(address.Hash160(key.PubKey().SerializeCompressed()), params)
	if err != nil {
		t.Fatal(err)
	}
	return addr.EncodeAddress()
}

func TestFindBinary(t *testing.T) {
	bin, err := btcdnode.FindBinary()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("FindBinary() = %q, not an executable (%v)", bin, err)
	}

	t.Setenv(btcdnode.EnvBinary, filepath.Join(t.TempDir(), "missing"))
	if _, err := btcdnode.FindBinary(); err == nil {
		t.Errorf("FindBinary() with $%s pointing nowhere: no error", btcdnode.EnvBinary)
	}
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := btcdnode.Start(ctx, btcdnode.Options{}); err == nil {
		t.Error("Start without Dir: no error")
	}
	if _, err := btcdnode.Start(ctx, btcdnode.Options{Dir: t.TempDir(), Network: "mainnet"}); err == nil {
		t.Error("Start on mainnet: no error")
	}
	// A binary that exits at once.
	if _, err := btcdnode.Start(ctx, btcdnode.Options{Dir: t.TempDir(), Binary: "/bin/false"}); err == nil {
		t.Error("Start with a binary that exits: no error")
	}
}

// TestRegtest checks the node and the facts about btcd regtest that the anchor
// package relies on.
func TestRegtest(t *testing.T) {
	t.Parallel()
	mining := p2wpkh(t, &chaincfg.RegressionNetParams)
	n := btcdtest.Start(t, btcdnode.Options{MiningAddr: mining})
	ctx := btcdtest.Context(t, 5*time.Minute)

	if h, err := n.BlockCount(ctx); err != nil || h != 0 {
		t.Fatalf("BlockCount() = %d, %v; want 0 on a fresh regtest chain", h, err)
	}

	// estimatefee on an empty chain: an error, not a rate.
	if raw, err := n.Call(ctx, "estimatefee", 6); err == nil {
		t.Logf("estimatefee on an empty chain = %s", raw)
	} else {
		t.Logf("estimatefee on an empty chain: %v", err)
	}

	start := time.Now()
	hashes, err := n.Generate(ctx, 101)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated 101 blocks in %v", time.Since(start))
	if len(hashes) != 101 {
		t.Fatalf("Generate(101) returned %d hashes", len(hashes))
	}
	if h, err := n.BlockCount(ctx); err != nil || h != 101 {
		t.Fatalf("BlockCount() = %d, %v; want 101", h, err)
	}

	// Segwit is active from block 1 on regtest.
	raw, err := n.Call(ctx, "getblockchaininfo")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Chain     string `json:"chain"`
		SoftForks map[string]struct {
			Status string `json:"status"`
		} `json:"bip9_softforks"`
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	if info.Chain != "regtest" || info.SoftForks["segwit"].Status != "active" {
		t.Errorf("getblockchaininfo: chain %q, segwit %+v; want regtest, active", info.Chain, info.SoftForks["segwit"])
	}

	// The coinbase pays the bech32 P2WPKH mining address. (btcd's verbose getblock
	// puts the transactions under "rawtx", not "tx" as bitcoind does.)
	raw, err = n.Call(ctx, "getblock", hashes[0].String(), 2)
	if err != nil {
		t.Fatal(err)
	}
	var blk struct {
		Tx []struct {
			Vout []struct {
				ScriptPubKey struct {
					Address string `json:"address"`
					Type    string `json:"type"`
				} `json:"scriptPubKey"`
			} `json:"vout"`
		} `json:"rawtx"`
	}
	if err := json.Unmarshal(raw, &blk); err != nil {
		t.Fatal(err)
	}
	if len(blk.Tx) == 0 || len(blk.Tx[0].Vout) == 0 {
		t.Fatalf("getblock: no coinbase output in %s", raw)
	}
	if out := blk.Tx[0].Vout[0].ScriptPubKey; out.Address != mining || out.Type != "witness_v0_keyhash" {
		t.Errorf("coinbase pays %+v, want %s (witness_v0_keyhash)", out, mining)
	}

	if raw, err := n.Call(ctx, "estimatefee", 6); err == nil {
		t.Logf("estimatefee after 101 blocks = %s", raw)
	} else {
		t.Logf("estimatefee after 101 blocks: %v", err)
	}

	var rpcErr *bitcoinrpc.Error
	if _, err := n.Call(ctx, "getblockhash", 1000); !errors.As(err, &rpcErr) {
		t.Errorf("getblockhash beyond the tip: %v, want an RPCError", err)
	}

	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(); err != nil {
		t.Errorf("second Stop() = %v", err)
	}
	if !n.Exited() {
		t.Error("process still running after Stop")
	}
	fast, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := n.BlockCount(fast); err == nil {
		t.Error("RPC answered after Stop")
	}
}

// TestSimnetRestart checks that simnet keeps its chain across a restart in the same Dir.
func TestSimnetRestart(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("real btcd node skipped in -short mode")
	}
	dir := t.TempDir()
	opts := btcdnode.Options{Dir: dir, Network: "simnet", MiningAddr: p2wpkh(t, &chaincfg.SimNetParams)}
	ctx := btcdtest.Context(t, 5*time.Minute)
	n, err := btcdnode.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	if _, err := n.Generate(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	n2, err := btcdnode.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Stop()
	if h, err := n2.BlockCount(ctx); err != nil || h != 5 {
		t.Errorf("simnet after restart: height %d, %v; want 5", h, err)
	}
}

// TestPeers connects two nodes, checks that blocks propagate, then mines a longer
// chain on a disconnected node and checks that the other one reorganizes to it.
func TestPeers(t *testing.T) {
	t.Parallel()
	a := btcdtest.Start(t, btcdnode.Options{MiningAddr: p2wpkh(t, &chaincfg.RegressionNetParams), Listen: true})
	b := btcdtest.Start(t, btcdnode.Options{MiningAddr: p2wpkh(t, &chaincfg.RegressionNetParams), Listen: true})
	ctx := btcdtest.Context(t, 5*time.Minute)

	if _, err := a.Generate(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := b.ConnectPeer(ctx, a.P2PAddr()); err != nil {
		t.Fatal(err)
	}
	waitHeight(t, ctx, b, 3)
	if err := b.DisconnectPeer(ctx, a.P2PAddr()); err != nil {
		t.Fatal(err)
	}
	waitPeers(t, ctx, a, 0)

	aHashes, err := a.Generate(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	bHashes, err := b.Generate(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ConnectPeer(ctx, a.P2PAddr()); err != nil {
		t.Fatal(err)
	}
	waitHeight(t, ctx, a, 5)
	raw, err := a.Call(ctx, "getblockhash", 4)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	json.Unmarshal(raw, &got)
	if got != bHashes[0].String() || got == aHashes[0].String() {
		t.Errorf("a's block 4 after the reorg = %s, want b's %s", got, bHashes[0])
	}

	// A node told to connect at startup syncs from its peer.
	c := btcdtest.Start(t, btcdnode.Options{Connect: []string{a.P2PAddr()}})
	if c.P2PAddr() != "" {
		t.Errorf("P2PAddr() = %q without Listen", c.P2PAddr())
	}
	waitHeight(t, ctx, c, 5)
}

func waitHeight(t *testing.T, ctx context.Context, n *btcdnode.Node, height int64) {
	t.Helper()
	for {
		h, err := n.BlockCount(ctx)
		if err == nil && h >= height {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("node did not reach height %d (at %d, %v)", height, h, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func waitPeers(t *testing.T, ctx context.Context, n *btcdnode.Node, want int) {
	t.Helper()
	for {
		raw, err := n.Call(ctx, "getconnectioncount")
		var c int
		if err == nil && json.Unmarshal(raw, &c) == nil && c == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("node has %d peers, want %d (%v)", c, want, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestRPCAddr checks that a pinned RPC address is the one the node answers on, and that a
// taken one fails Start at once, naming it.
func TestRPCAddr(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_, err = btcdnode.Start(context.Background(), btcdnode.Options{Dir: t.TempDir(), RPCAddr: addr})
	if err == nil || !strings.Contains(err.Error(), "the RPC address "+addr+" cannot be used") {
		t.Errorf("Start on a taken RPC address: %v", err)
	}
	ln.Close() // now free, though no longer reserved: another process could take it first

	n := btcdtest.Start(t, btcdnode.Options{RPCAddr: addr})
	if n.RPCHost() != addr {
		t.Errorf("RPCHost() = %s, want the pinned %s", n.RPCHost(), addr)
	}
	if h, err := n.BlockCount(btcdtest.Context(t, time.Minute)); err != nil || h != 0 {
		t.Errorf("BlockCount() on the pinned address = %d, %v", h, err)
	}
}
