package anchor

import (
	"bytes"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/notary-dev/notary/merkle"
)

// Transaction shape. An anchoring transaction has version 2, lock time 0, one
// P2WPKH input from the notary's key signalling replaceability (BIP 125), and two
// outputs: OP_RETURN <tag ‖ root> (value 0) first, then the change back to the key.
const (
	txVersion = 2
	// rbfSequence signals BIP 125 replaceability (any value below 0xfffffffe).
	rbfSequence = wire.MaxTxInSequenceNum - 2
	// MaxTagSize is the longest tag: standard OP_RETURN data is at most 80 bytes.
	MaxTagSize = txscript.MaxDataCarrierSize - merkle.HashSize
	// dustLimit is the smallest change output kept; below it the coin is spent.
	// (A P2WPKH output is dust below 294 sat at 1 sat/vB; 546 is the common
	// conservative limit.)
	dustLimit = btcutil.Amount(546)
	// maxWitnessSig is the longest DER signature plus sighash byte.
	maxWitnessSig = 73
)

// Payload returns the OP_RETURN data committing root: tag ‖ root.
func Payload(tag []byte, root merkle.Hash) []byte {
	return append(append(make([]byte, 0, len(tag)+merkle.HashSize), tag...), root[:]...)
}

// spendable is a coin the anchorer may spend.
type spendable struct {
	OutPoint wire.OutPoint
	Value    btcutil.Amount
}

// buildAnchorTx returns the signed anchoring transaction spending in, committing
// payload, paying fee and returning the rest to key. It fails with ErrNoFunds if
// the change would be dust.
func buildAnchorTx(key *btcec.PrivateKey, in spendable, payload []byte, fee btcutil.Amount) (*wire.MsgTx, error) {
	script := pkScript(key)
	tx, err := unsignedAnchorTx(in, payload, script, fee)
	if err != nil {
		return nil, err
	}
	fetcher := txscript.NewCannedPrevOutputFetcher(script, int64(in.Value))
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	witness, err := txscript.WitnessSignature(tx, hashes, 0, int64(in.Value), script, txscript.SigHashAll, key, true)
	if err != nil {
		return nil, fmt.Errorf("anchor: sign: %v", err)
	}
	tx.TxIn[0].Witness = witness
	return tx, nil
}

func unsignedAnchorTx(in spendable, payload, change []byte, fee btcutil.Amount) (*wire.MsgTx, error) {
	if len(payload) > txscript.MaxDataCarrierSize {
		return nil, fmt.Errorf("anchor: OP_RETURN payload of %d bytes exceeds %d", len(payload), txscript.MaxDataCarrierSize)
	}
	nullData, err := txscript.NullDataScript(payload)
	if err != nil {
		return nil, fmt.Errorf("anchor: OP_RETURN script: %v", err)
	}
	if fee < 0 {
		return nil, fmt.Errorf("anchor: negative fee %d", fee)
	}
	rest := in.Value - fee
	if rest < dustLimit {
		return nil, fmt.Errorf("%w: coin %v holds %v, the fee is %v", ErrNoFunds, in.OutPoint, in.Value, fee)
	}
	tx := wire.NewMsgTx(txVersion)
	txIn := wire.NewTxIn(&in.OutPoint, nil, nil)
	txIn.Sequence = rbfSequence
	tx.AddTxIn(txIn)
	tx.AddTxOut(wire.NewTxOut(0, nullData))
	tx.AddTxOut(wire.NewTxOut(int64(rest), change))
	tx.LockTime = 0
	return tx, nil
}

// anchorVSize returns an upper bound of the virtual size of an anchoring transaction
// with a payload of payloadLen bytes: its size with the longest possible signature.
func anchorVSize(payloadLen int) int64 {
	dummyKey := make([]byte, 33)
	tx, err := unsignedAnchorTx(spendable{Value: btcutil.MaxSatoshi}, make([]byte, payloadLen), make([]byte, 22), 0)
	if err != nil {
		panic("anchor: " + err.Error()) // callers check payloadLen first
	}
	tx.TxIn[0].Witness = wire.TxWitness{make([]byte, maxWitnessSig), dummyKey}
	return vsize(tx)
}

// vsize returns the virtual size of tx: its weight (3 × stripped size + total size)
// divided by 4, rounded up.
func vsize(tx *wire.MsgTx) int64 {
	weight := int64(3*tx.SerializeSizeStripped() + tx.SerializeSize())
	return (weight + 3) / 4
}

// serialize returns the full serialization of tx (with witness).
func serialize(tx *wire.MsgTx) []byte {
	var buf bytes.Buffer
	buf.Grow(tx.SerializeSize())
	if err := tx.Serialize(&buf); err != nil {
		panic("anchor: serialize to memory: " + err.Error())
	}
	return buf.Bytes()
}

// serializeNoWitness returns the serialization of tx that its txid hashes.
func serializeNoWitness(tx *wire.MsgTx) []byte {
	var buf bytes.Buffer
	buf.Grow(tx.SerializeSizeStripped())
	if err := tx.SerializeNoWitness(&buf); err != nil {
		panic("anchor: serialize to memory: " + err.Error())
	}
	return buf.Bytes()
}

// parseTx decodes a full serialization.
func parseTx(b []byte) (*wire.MsgTx, error) {
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("anchor: stored transaction: %v", err)
	}
	return &tx, nil
}
