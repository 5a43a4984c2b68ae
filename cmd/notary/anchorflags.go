//go:build cgo

package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/notary-dev/notary/anchor"
	"github.com/notary-dev/notary/internal/bitcoinrpc"
	"github.com/notary-dev/notary/service"
)

// anchorFlags configure the anchorer and its node.
type anchorFlags struct {
	network          string
	nodeURL          string
	nodeCookie       string
	nodePasswordFile string
	interval         time.Duration
	bumpAfter        time.Duration
	depth            int
	feeFloor         int64
	feeCap           int64
	startHeight      int64
	tag              string
}

func (f *anchorFlags) register(fs *flag.FlagSet) {
	f.registerNode(fs)
	f.registerAnchoring(fs)
}

// registerNode registers the flags that say which node, on which network: all that a
// command reading the wallet needs.
func (f *anchorFlags) registerNode(fs *flag.FlagSet) {
	fs.StringVar(&f.network, "network", "mainnet", "Bitcoin `NETWORK`: mainnet, testnet3, testnet4, signet, regtest or simnet")
	fs.StringVar(&f.nodeURL, "node", "http://127.0.0.1:8332", "the node's JSON-RPC `URL` with credentials, e.g. http://user:pass@127.0.0.1:8332 (bitcoind or btcd --notls).\n"+
		"A password on the command line shows in the process list: prefer NOTARY_NODE=URL in the environment,\n"+
		"node = URL in --config, or --node http://user@HOST:PORT with --node-password-file or --node-cookie")
	fs.StringVar(&f.nodeCookie, "node-cookie", "", "bitcoind's .cookie `FILE`, instead of credentials in --node")
	fs.StringVar(&f.nodePasswordFile, "node-password-file", "", "read the password of the user named in --node from `FILE` (its first line)")
}

// registerAnchoring registers the flags of how the service anchors.
func (f *anchorFlags) registerAnchoring(fs *flag.FlagSet) {
	fs.DurationVar(&f.interval, "anchor-interval", time.Hour, "least time between two anchoring transactions")
	fs.DurationVar(&f.bumpAfter, "bump-after", time.Hour, "replace a transaction with a higher fee when it waits this long for a block")
	fs.IntVar(&f.depth, "depth", 6, "confirmations that make an anchor final")
	fs.Int64Var(&f.feeFloor, "fee-floor", 1, "lowest fee rate paid, sat/vB")
	fs.Int64Var(&f.feeCap, "fee-cap", 50, "highest fee rate paid, sat/vB")
	fs.Int64Var(&f.startHeight, "start-height", 0, "first block to scan for the wallet's coins: the height of its first funding or lower")
	fs.StringVar(&f.tag, "tag", "", "short `TEXT` written before the root in the OP_RETURN output")
}

// params returns the chain parameters of --network.
func (f *anchorFlags) params() (*chaincfg.Params, error) {
	p, ok := map[string]*chaincfg.Params{
		"mainnet":  &chaincfg.MainNetParams,
		"testnet3": &chaincfg.TestNet3Params,
		"testnet4": &chaincfg.TestNet4Params,
		"signet":   &chaincfg.SigNetParams,
		"regtest":  &chaincfg.RegressionNetParams,
		"simnet":   &chaincfg.SimNetParams,
	}[f.network]
	if !ok {
		return nil, usageError("--network %q: want mainnet, testnet3, testnet4, signet, regtest or simnet", f.network)
	}
	return p, nil
}

// node returns the RPC client of --node.
func (f *anchorFlags) node() (anchor.Node, error) {
	cfg, err := f.rpcConfig()
	if err != nil {
		return nil, err
	}
	rpc, err := anchor.NewRPC(cfg)
	if err != nil {
		return nil, usageError("--node: %v", err)
	}
	return rpc, nil
}

// rpcConfig returns the node's address and credentials: --node, and the password of
// --node-password-file or the cookie of --node-cookie.
func (f *anchorFlags) rpcConfig() (bitcoinrpc.Config, error) {
	cfg, err := bitcoinrpc.FromURL(f.nodeURL)
	if err != nil {
		return bitcoinrpc.Config{}, usageError("--node %q is %v", redactURL(f.nodeURL), err)
	}
	cfg.CookieFile = f.nodeCookie
	if f.nodePasswordFile == "" {
		return cfg, nil
	}
	if cfg.Pass != "" {
		return bitcoinrpc.Config{}, usageError("--node-password-file and a password in --node: give the password once")
	}
	if f.nodeCookie != "" {
		return bitcoinrpc.Config{}, usageError("--node-password-file and --node-cookie: give one")
	}
	if cfg.User == "" {
		return bitcoinrpc.Config{}, usageError("--node-password-file needs the user in --node, as http://user@127.0.0.1:8332")
	}
	if cfg.Pass, err = readPasswordFile(f.nodePasswordFile); err != nil {
		return bitcoinrpc.Config{}, usageError("--node-password-file: %v", err)
	}
	return cfg, nil
}

// readPasswordFile returns the first line of a file, without its line ending.
func readPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("%s: the first line is empty", path)
	}
	return line, nil
}

// passwordInArgs reports whether --node was given on the command line with a password,
// which anyone on the machine can read in the process list.
func passwordInArgs(fs *flag.FlagSet) bool {
	in := false
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "node" {
			if u, err := url.Parse(fl.Value.String()); err == nil && u.User != nil {
				_, in = u.User.Password()
			}
		}
	})
	return in
}

// open loads the anchoring key from the data directory and returns the anchorer.
func (f *anchorFlags) open(ctx context.Context, dataDir string, node anchor.Node, st anchor.Store, cps service.CheckpointSource, log *slog.Logger) (*anchor.Anchorer, error) {
	params, err := f.params()
	if err != nil {
		return nil, err
	}
	key, err := anchor.LoadOrCreateKey(filepath.Join(dataDir, "bitcoin.key"))
	if err != nil {
		return nil, err
	}
	a, err := anchor.New(ctx, anchor.Config{
		Params: params, Key: key, Node: node, Store: st, Checkpoints: cps,
		Interval: f.interval, BumpAfter: f.bumpAfter, Depth: f.depth,
		FeeFloor: anchor.SatPerVByte(f.feeFloor), FeeCap: anchor.SatPerVByte(f.feeCap),
		StartHeight: f.startHeight, Tag: []byte(f.tag), Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the anchorer: %w", err)
	}
	return a, nil
}
