package notary_test

import (
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// TestNetworksMatchBtcd checks each network's genesis block and proof-of-work limit against
// btcd's chain parameters, and that the networks are the ones docs/proof-format.md lists.
func TestNetworksMatchBtcd(t *testing.T) {
	params := map[string]*chaincfg.Params{
		"mainnet":  &chaincfg.MainNetParams,
		"testnet3": &chaincfg.TestNet3Params,
		"testnet4": &chaincfg.TestNet4Params,
		"signet":   &chaincfg.SigNetParams,
		"regtest":  &chaincfg.RegressionNetParams,
		"simnet":   &chaincfg.SimNetParams,
	}
	var names []string
	for _, n := range notary.Networks() {
		names = append(names, n.Name)
		p, ok := params[n.Name]
		if !ok {
			t.Errorf("network %q is not one of btcd's", n.Name)
			continue
		}
		if n.Genesis != merkle.Hash(*p.GenesisHash) {
			t.Errorf("%s: genesis %s, btcd says %s", n.Name, notary.ReverseHex(n.Genesis), p.GenesisHash)
		}
		if n.PowLimit().Cmp(p.PowLimit) != 0 {
			t.Errorf("%s: proof-of-work limit %x, btcd says %x", n.Name, n.PowLimit(), p.PowLimit)
		}
		if got, ok := notary.NetworkOfGenesis(n.Genesis); !ok || got.Name != n.Name {
			t.Errorf("NetworkOfGenesis(%s) = %q, %v; want %s", notary.ReverseHex(n.Genesis), got.Name, ok, n.Name)
		}
		if got, ok := notary.LookupNetwork(n.Name); !ok || got.Name != n.Name {
			t.Errorf("LookupNetwork(%q) = %q, %v", n.Name, got.Name, ok)
		}
		// The limit is the caller's copy.
		n.PowLimit().SetInt64(1)
	}
	if got, want := strings.Join(names, ","), "mainnet,testnet3,testnet4,signet,regtest,simnet"; got != want {
		t.Errorf("Networks() = %s, want %s (docs/proof-format.md)", got, want)
	}
	for _, name := range []string{"", "bitcoin", "Regtest", "main", "testnet", "regtest ", "MAINNET"} {
		if _, ok := notary.LookupNetwork(name); ok {
			t.Errorf("LookupNetwork(%q) found a network", name)
		}
	}
	if _, ok := notary.NetworkOfGenesis(merkle.Hash{}); ok {
		t.Error("NetworkOfGenesis of a zero hash found a network")
	}
}

// TestCheckProofOfWork checks the target a header's bits state against each network's
// limit: the limit itself is allowed, a target one step easier is not, whatever the hash.
func TestCheckProofOfWork(t *testing.T) {
	root := merkle.DoubleSHA256([]byte("block"))
	tests := []struct {
		network string
		bits    uint32
		want    string // in the error; "" for none
	}{
		{"mainnet", 0x1d00ffff, "does not meet"}, // the genesis block's bits: allowed, but the hash is not ground
		{"mainnet", 0x1d010000, "easier than mainnet"},
		{"mainnet", 0x207fffff, "easier than mainnet"},
		{"testnet3", 0x1d00ffff, "does not meet"},
		{"testnet3", 0x1d010000, "easier than testnet3"},
		{"testnet4", 0x1d00ffff, "does not meet"},
		{"testnet4", 0x1e00ffff, "easier than testnet4"},
		{"signet", 0x1e0377ae, "does not meet"},
		{"signet", 0x1e0377af, "easier than signet"},
		{"signet", 0x1d00ffff, "does not meet"},
		{"regtest", 0x207fffff, ""},
		{"regtest", 0x21008000, "easier than regtest"},
		{"regtest", 0x2100ffff, "easier than regtest"},
		{"simnet", 0x207fffff, ""},
		{"simnet", 0x21008000, "easier than simnet"},
		{"regtest", 0xff7fffff, "no valid target"},
		{"regtest", 0x227fffff, "no valid target"}, // more than 256 bits
		{"regtest", 0x20ffffff, "no valid target"}, // sign bit
		{"regtest", 0x20800000, "no valid target"}, // sign bit, zero mantissa
		{"regtest", 0x20000000, "no valid target"}, // zero
		{"regtest", 0x03000000, "no valid target"},
		{"regtest", 0x02000080, "no valid target"}, // shifted out to zero
		{"regtest", 0x1d00ffff, "does not meet"},
		{"bitcoin", 0x207fffff, `network "bitcoin"`},
		{"", 0x207fffff, `network ""`},
	}
	for _, tt := range tests {
		var h notary.Header
		switch tt.want {
		case "":
			h = newHeaderBits(t, root, tt.bits, true)
		case "does not meet":
			h = newHeaderBits(t, root, tt.bits, false)
		default: // the hash does not matter
			h = notary.Header(setBits(h[:], tt.bits))
		}
		err := h.CheckProofOfWork(tt.network)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s bits %08x: %v", tt.network, tt.bits, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s bits %08x: error %v, want one saying %q", tt.network, tt.bits, err, tt.want)
		}
	}
}
