package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestE2EWallet runs the wallet command, as an operator does, on the data directory of a
// running stack whose key has mined coins.
func TestE2EWallet(t *testing.T) {
	t.Parallel()
	c := startChain(t)
	c.mine(t, matureBlocks)
	s := startStack(t, c, stackOptions{})
	waitFor(t, waitLimit, "scanned to the tip", func() (bool, error) {
		w, err := s.anc.Wallet(context.Background())
		return err == nil && w.Synced && w.Height == matureBlocks, err
	})
	w, err := s.anc.Wallet(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if w.Coins != matureBlocks {
		t.Fatalf("the anchorer found %d coins after %d blocks mined to its key", w.Coins, matureBlocks)
	}

	// The command reads the wallet as the service last saved it, and the anchorer saves a
	// step's scan after it reports it: wait for the saved scan to reach the tip.
	var stdout string
	waitFor(t, waitLimit, "the scan to the tip saved", func() (bool, error) {
		stdout, _ = wantCLI(t, exitOK, "wallet", "--data", c.data, "--network", "regtest", "--node", c.rpcURL())
		return hasLine(stdout, fmt.Sprintf("scanned to block %d", matureBlocks)), nil
	})
	for _, want := range []string{
		fmt.Sprintf("address    %s (regtest)", s.anc.Address()),
		fmt.Sprintf("balance    %s (%s spendable) in %d coin(s)", w.Balance, w.Spendable, w.Coins),
		fmt.Sprintf("scanned to block %d", matureBlocks),
	} {
		if !hasLine(stdout, want) {
			t.Errorf("wallet: no line %q in:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "Fund it") {
		t.Errorf("wallet asks to fund a wallet that has coins:\n%s", stdout)
	}
}
