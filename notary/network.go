package notary

import (
	"math/big"
	"strings"

	"github.com/notary-dev/notary/merkle"
)

// Network is a Bitcoin network a proof can be anchored on: its name as proofs give it, the
// block that starts its chain, and the easiest proof-of-work target its headers may state.
type Network struct {
	Name string
	// Genesis is the hash of the network's block 0, in internal byte order: a node that
	// answers another hash at height 0 follows another chain.
	Genesis  merkle.Hash
	powLimit *big.Int
}

// PowLimit returns the easiest target a header of the network may state (the consensus
// rules' powLimit): a header whose bits state a larger one is not a block of the network.
func (n Network) PowLimit() *big.Int { return new(big.Int).Set(n.powLimit) }

// networks are the networks docs/proof-format.md lists, in its order. The genesis hashes and
// limits are Bitcoin Core's (btcd's for simnet, a btcd network only).
var networks = []Network{
	{Name: "mainnet", Genesis: genesis("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"), powLimit: limitBelow(224)},
	{Name: "testnet3", Genesis: genesis("000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943"), powLimit: limitBelow(224)},
	{Name: "testnet4", Genesis: genesis("00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043"), powLimit: limitBelow(224)},
	{Name: "signet", Genesis: genesis("00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6"), powLimit: new(big.Int).Lsh(big.NewInt(0x0377ae), 216)},
	{Name: "regtest", Genesis: genesis("0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"), powLimit: limitBelow(255)},
	{Name: "simnet", Genesis: genesis("683e86bd5c6d110d91b94b97137ba6bfe02dbbdb8e3dff722a669b5d69d77af6"), powLimit: limitBelow(255)},
}

// Networks returns the networks a proof may name, in the order docs/proof-format.md lists them.
func Networks() []Network {
	out := make([]Network, len(networks))
	copy(out, networks)
	return out
}

// LookupNetwork returns the network a proof names name. Names are exact: "Mainnet",
// "bitcoin" or "" name no network.
func LookupNetwork(name string) (Network, bool) {
	for _, n := range networks {
		if n.Name == name {
			return n, true
		}
	}
	return Network{}, false
}

// NetworkOfGenesis returns the network whose block 0 has the given hash (internal byte
// order), as a node answers it for height 0.
func NetworkOfGenesis(hash merkle.Hash) (Network, bool) {
	for _, n := range networks {
		if n.Genesis == hash {
			return n, true
		}
	}
	return Network{}, false
}

// networkNames lists the names for error messages.
func networkNames() string {
	names := make([]string, len(networks))
	for i, n := range networks {
		names[i] = n.Name
	}
	return strings.Join(names, ", ")
}

// limitBelow returns 2^bits - 1.
func limitBelow(bits uint) *big.Int {
	return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), bits), big.NewInt(1))
}

// genesis parses a block hash as explorers print it (byte-reversed) into internal order.
func genesis(explorerHex string) merkle.Hash {
	h, err := merkle.ParseHash(explorerHex)
	if err != nil {
		panic("notary: bad genesis hash " + explorerHex)
	}
	var r merkle.Hash
	for i := range h {
		r[len(h)-1-i] = h[i]
	}
	return r
}
