//go:build cgo

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/notary-dev/notary/anchor"
	"github.com/notary-dev/notary/internal/btcdnode"
)

func cmdDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dev", "[flags]", stderr)
	var f serveFlags
	f.register(fs, filepath.Join(".state", "dev"))
	blockEvery := fs.Duration("block-interval", 3*time.Second, "mine a block this often")
	btcd := fs.String("btcd", "", "the btcd `BINARY` (default: $NOTARY_BTCD, else bin/btcd, built from go.mod if missing)")
	btcdRPC := fs.String("btcd-rpc", "", "the btcd node's JSON-RPC address, `HOST:PORT` (default: a free loopback port)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// A taken port is found before btcd starts and mines, not a minute later.
	if err := checkListen(f.addr); err != nil {
		return err
	}
	f.anchor = anchorFlags{
		network: "regtest", interval: 5 * time.Second, bumpAfter: 30 * time.Second,
		depth: 1, feeFloor: 1, feeCap: 50,
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	unlock, err := lockDataDir(f.data)
	if err != nil {
		return err
	}
	defer unlock()
	// btcd wipes a regtest chain at every start, so proofs and coins of an earlier run
	// would point at blocks that no longer exist: the dev stack starts from nothing.
	if err := clearDir(f.data, "lock"); err != nil {
		return usageError("clearing %s: %v", f.data, err)
	}
	key, err := anchor.LoadOrCreateKey(filepath.Join(f.data, "bitcoin.key"))
	if err != nil {
		return err
	}
	addr, err := anchor.Address(key, &chaincfg.RegressionNetParams)
	if err != nil {
		return err
	}
	node, err := btcdnode.Start(ctx, btcdnode.Options{
		Binary: *btcd, Dir: filepath.Join(f.data, "btcd"), Network: "regtest",
		MiningAddr: addr.EncodeAddress(), Logger: log.With("part", "btcd"), RPCAddr: *btcdRPC,
	})
	if err != nil {
		hint := "run \"make bin/btcd\" to build the pinned btcd"
		if *btcdRPC != "" && errors.Is(err, syscall.EADDRINUSE) {
			hint = "another process listens on " + *btcdRPC + ": choose another --btcd-rpc, or leave it out for a free port"
		}
		return &cliError{code: exitUsage, err: fmt.Errorf("starting btcd: %v", err), hint: hint}
	}
	defer node.Stop()

	// Coinbase outputs mature after 100 blocks: mine past that so the wallet can spend.
	if _, err := node.Generate(ctx, 110); err != nil {
		return fmt.Errorf("mining the first blocks: %v", err)
	}
	rpc, err := anchor.NewRPC(node.RPCConfig())
	if err != nil {
		return err
	}
	minerCtx, stopMiner := context.WithCancel(ctx)
	defer stopMiner()
	go mine(minerCtx, node, *blockEvery, log)

	return runStack(ctx, f, rpc, log, func(s *stack) {
		fmt.Fprintf(stdout, `
notary is running on a local Bitcoin regtest chain.

  web page   %[1]s/
  submit     curl -X POST %[1]s/v1/timestamps -H 'Content-Type: application/json' -d '{"digest":"'$(sha256sum FILE | cut -c1-64)'"}'
  look up    curl %[1]s/v1/timestamps/DIGEST
  stamp      bin/notary stamp --server %[1]s FILE
  RFC 3161   openssl ts -query -data FILE -sha256 -cert | curl -s --data-binary @- -H 'Content-Type: application/timestamp-query' %[1]s/tsa > FILE.tsr
  verify     bin/notary verify --node http://%[2]s:%[3]s@%[4]s FILE.proof.json FILE

A block is mined every %[5]s and an anchor sent every %[6]s: a digest has a complete proof
within about a minute. State lives in %[7]s. Ctrl-C stops everything.

`, s.url, node.RPCUser(), node.RPCPass(), node.RPCHost(), *blockEvery, f.anchor.interval, f.data)
	})
}

// mine generates a block every interval until ctx is done.
func mine(ctx context.Context, node *btcdnode.Node, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if _, err := node.Generate(cctx, 1); err != nil && ctx.Err() == nil {
				log.Warn("mining a block", "err", err)
			}
			cancel()
		}
	}
}

// clearDir removes everything in dir but the entry named keep.
func clearDir(dir, keep string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == keep {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
