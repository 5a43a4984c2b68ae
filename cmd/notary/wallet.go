//go:build cgo

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/notary-dev/notary/notary"
)

func cmdWallet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("wallet", "[flags]", stderr)
	config := fs.String("config", "", "read settings from `FILE`, serve's config file (the settings of serve alone are ignored)")
	var f serveFlags
	fs.StringVar(&f.data, "data", "notary-data", "the service's state `DIR`")
	fs.StringVar(&f.db, "db", "", dbFlagUsage)
	f.anchor.registerNode(fs)
	// How the service anchors is not wallet's business, but the anchorer opens with it:
	// serve's defaults, or what --config and NOTARY_* say, as serve would take them.
	anchoring := flag.NewFlagSet("wallet", flag.ContinueOnError)
	f.anchor.registerAnchoring(anchoring)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// serve's config file also holds settings wallet has no use for.
	serveSet := flag.NewFlagSet("serve", flag.ContinueOnError)
	var sf serveFlags
	sf.register(serveSet, "")
	sf.anchor.register(serveSet)
	sf.api.register(serveSet)
	if err := applyConfigAlso(fs, *config, serveSet); err != nil {
		return err
	}
	if err := applyConfigAlso(anchoring, *config, serveSet); err != nil {
		return err
	}
	db, err := openDatabase(ctx, databasePath(f.db, f.data), true)
	if err != nil {
		return err
	}
	defer db.Close()
	node, err := f.anchor.node()
	if err != nil {
		return err
	}
	// The wallet is read as the running service last saved it; nothing is written here.
	anc, err := f.anchor.open(ctx, f.data, node, db, noCheckpoints{}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	w, err := anc.Wallet(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "address    %s (%s)\n", w.Address, w.Network)
	fmt.Fprintf(stdout, "balance    %s (%s spendable) in %d coin(s)\n", w.Balance, w.Spendable, w.Coins)
	fmt.Fprintf(stdout, "scanned to block %d (as the service last saved it)\n", w.Height)
	if w.Coins == 0 {
		fmt.Fprintf(stdout, "Fund it by sending bitcoin to %s; anchoring waits until a coin is spendable.\n", w.Address)
	}
	return nil
}

// noCheckpoints stands in for the log when the anchorer is opened only to read its wallet.
type noCheckpoints struct{}

func (noCheckpoints) LatestCheckpoint() notary.Checkpoint { return notary.Checkpoint{} }
