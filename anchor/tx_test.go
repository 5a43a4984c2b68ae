package anchor

import (
	"bytes"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/notary-dev/notary/merkle"
)

func TestBuildAnchorTx(t *testing.T) {
	key := newTestKey(t)
	script := pkScript(key)
	in := spendable{OutPoint: wire.OutPoint{Hash: chainhash.Hash{1, 2, 3}, Index: 7}, Value: 50 * btcutil.SatoshiPerBitcoin}
	root := rootOf(42)

	for _, tt := range []struct {
		name string
		tag  []byte
	}{
		{"no tag", nil},
		{"short tag", []byte("notary1")},
		{"longest tag (OP_PUSHDATA1)", bytes.Repeat([]byte{'t'}, MaxTagSize)},
	} {
		tag := tt.tag
		t.Run(tt.name, func(t *testing.T) {
			payload := Payload(tag, root)
			if !bytes.Equal(payload, append(append([]byte{}, tag...), root[:]...)) {
				t.Fatalf("Payload = %x, want tag ‖ root", payload)
			}
			fee := btcutil.Amount(1234)
			tx, err := buildAnchorTx(key, in, payload, fee)
			if err != nil {
				t.Fatal(err)
			}

			// Shape: one RBF-signalling input, OP_RETURN then change, lock time 0.
			if len(tx.TxIn) != 1 || tx.TxIn[0].PreviousOutPoint != in.OutPoint {
				t.Fatalf("inputs %+v, want one spending %v", tx.TxIn, in.OutPoint)
			}
			if seq := tx.TxIn[0].Sequence; seq >= wire.MaxTxInSequenceNum-1 {
				t.Errorf("sequence %#x does not signal replaceability", seq)
			}
			if tx.LockTime != 0 {
				t.Errorf("lock time %d, want 0", tx.LockTime)
			}
			if len(tx.TxOut) != 2 {
				t.Fatalf("%d outputs, want 2", len(tx.TxOut))
			}
			op := tx.TxOut[0]
			if op.Value != 0 || txscript.GetScriptClass(op.PkScript) != txscript.NullDataTy {
				t.Errorf("output 0 = %d sat, class %v; want a 0-value OP_RETURN", op.Value, txscript.GetScriptClass(op.PkScript))
			}
			pushes, err := txscript.PushedData(op.PkScript)
			if err != nil || len(pushes) != 1 || !bytes.Equal(pushes[0], payload) {
				t.Errorf("OP_RETURN pushes %x (%v), want exactly %x", pushes, err, payload)
			}
			change := tx.TxOut[1]
			if !bytes.Equal(change.PkScript, script) || btcutil.Amount(change.Value) != in.Value-fee {
				t.Errorf("change = %d to %x, want %d to our script", change.Value, change.PkScript, in.Value-fee)
			}

			// The non-witness serialization hashes to the txid.
			if got := chainhash.Hash(merkle.DoubleSHA256(serializeNoWitness(tx))); got != tx.TxHash() {
				t.Errorf("double SHA-256 of the non-witness serialization = %v, txid %v", got, tx.TxHash())
			}
			if !tx.HasWitness() || bytes.Equal(serialize(tx), serializeNoWitness(tx)) {
				t.Error("the full serialization should carry the witness")
			}

			// The signature verifies.
			fetcher := txscript.NewCannedPrevOutputFetcher(script, int64(in.Value))
			vm, err := txscript.NewEngine(script, tx, 0, txscript.StandardVerifyFlags, nil,
				txscript.NewTxSigHashes(tx, fetcher), int64(in.Value), fetcher)
			if err != nil {
				t.Fatal(err)
			}
			if err := vm.Execute(); err != nil {
				t.Errorf("script engine: %v", err)
			}
			// ... and not for another amount (BIP 143 commits it).
			vm, _ = txscript.NewEngine(script, tx, 0, txscript.StandardVerifyFlags, nil,
				txscript.NewTxSigHashes(tx, fetcher), int64(in.Value)+1, fetcher)
			if err := vm.Execute(); err == nil {
				t.Error("signature verifies for a different input amount")
			}

			if got, bound := vsize(tx), anchorVSize(len(payload)); got > bound || got < bound-1 {
				t.Errorf("vsize %d, bound %d: the bound should be tight", got, bound)
			}

			// A round trip through the stored form keeps the bytes.
			back, err := parseTx(serialize(tx))
			if err != nil || back.TxHash() != tx.TxHash() || back.WitnessHash() != tx.WitnessHash() {
				t.Errorf("parseTx round trip: %v", err)
			}
		})
	}
}

func TestBuildAnchorTxErrors(t *testing.T) {
	key := newTestKey(t)
	in := spendable{OutPoint: wire.OutPoint{Index: 1}, Value: 10_000}
	if _, err := buildAnchorTx(key, in, Payload(nil, merkle.Hash{}), 10_000-dustLimit+1); !errors.Is(err, ErrNoFunds) {
		t.Errorf("dust change: %v, want ErrNoFunds", err)
	}
	if _, err := buildAnchorTx(key, in, Payload(nil, merkle.Hash{}), 10_000-dustLimit); err != nil {
		t.Errorf("change exactly at the dust limit: %v", err)
	}
	if _, err := buildAnchorTx(key, in, make([]byte, txscript.MaxDataCarrierSize+1), 100); err == nil {
		t.Error("an 81-byte payload was accepted")
	}
	if _, err := buildAnchorTx(key, in, Payload(nil, merkle.Hash{}), -1); err == nil {
		t.Error("a negative fee was accepted")
	}
}

func TestAddress(t *testing.T) {
	key := newTestKey(t)
	for _, tt := range []struct {
		params *chaincfg.Params
		prefix string
	}{
		{&chaincfg.MainNetParams, "bc1q"},
		{&chaincfg.TestNet3Params, "tb1q"},
		{&chaincfg.RegressionNetParams, "bcrt1q"},
		{&chaincfg.SimNetParams, "sb1q"},
	} {
		addr, err := Address(key, tt.params)
		if err != nil {
			t.Fatal(err)
		}
		if s := addr.EncodeAddress(); len(s) < len(tt.prefix) || s[:len(tt.prefix)] != tt.prefix {
			t.Errorf("%s address %s, want prefix %s", tt.params.Name, s, tt.prefix)
		}
		script, err := txscript.PayToAddrScript(addr)
		if err != nil || !bytes.Equal(script, pkScript(key)) {
			t.Errorf("%s: the address's script %x differs from pkScript %x", tt.params.Name, script, pkScript(key))
		}
	}
}
