package notary_test

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// The log's keys are logtest's; forgerSkey bears the log's name but is another key,
// otherSkey is the key of another log.
const (
	logName = logtest.LogName
	logSkey = logtest.LogSkey
	logVkey = logtest.LogVkey

	forgerSkey = "PRIVATE+KEY+notary.example/log+c27145f0+AQ7jHha4oGnXHZy9i+v498Mz7xw8TqnFJjP29fiP1wAa"
	forgerVkey = "notary.example/log+c27145f0+AXEolEBUsgRKy+zY9YiGCysvf8cWRmpfAqxMhY5h1JcK"

	otherSkey = "PRIVATE+KEY+notary.example/other+e784a5df+AfD/qnQLqIpRp3c2HQIq8sZgcH3ohop5EYUiGeOfmhmb"
	otherVkey = "notary.example/other+e784a5df+ATMGrA50yNSDUqUvB5flY5eb4a6BWsfrn7Vk8W2Daj1c"
)

var (
	newSigner  = logtest.Signer
	testDigest = logtest.Digest
	testEntry  = logtest.Entry
	newMemLog  = logtest.NewMemLog
)

// A Bitcoin transaction, enough of it to serialize one.
type btcTx struct {
	version  uint32
	inputs   []btcIn
	outputs  []btcOut
	lockTime uint32
}

type btcIn struct {
	prevHash  merkle.Hash
	prevIndex uint32
	script    []byte
	sequence  uint32
	witness   [][]byte
}

type btcOut struct {
	value  uint64
	script []byte
}

func appendCompactSize(b []byte, n uint64) []byte {
	switch {
	case n < 0xfd:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.LittleEndian.AppendUint16(append(b, 0xfd), uint16(n))
	case n <= 0xffffffff:
		return binary.LittleEndian.AppendUint32(append(b, 0xfe), uint32(n))
	}
	return binary.LittleEndian.AppendUint64(append(b, 0xff), n)
}

func appendVarBytes(b, data []byte) []byte {
	return append(appendCompactSize(b, uint64(len(data))), data...)
}

// serialize returns the transaction in Bitcoin's serialization: with witness data (BIP 144,
// marker 0x00 and flag 0x01) if witness is true, otherwise the one its txid hashes.
func (tx *btcTx) serialize(witness bool) []byte {
	b := binary.LittleEndian.AppendUint32(nil, tx.version)
	if witness {
		b = append(b, 0x00, 0x01)
	}
	b = appendCompactSize(b, uint64(len(tx.inputs)))
	for _, in := range tx.inputs {
		b = append(b, in.prevHash[:]...)
		b = binary.LittleEndian.AppendUint32(b, in.prevIndex)
		b = appendVarBytes(b, in.script)
		b = binary.LittleEndian.AppendUint32(b, in.sequence)
	}
	b = appendCompactSize(b, uint64(len(tx.outputs)))
	for _, out := range tx.outputs {
		b = binary.LittleEndian.AppendUint64(b, out.value)
		b = appendVarBytes(b, out.script)
	}
	if witness {
		for _, in := range tx.inputs {
			b = appendCompactSize(b, uint64(len(in.witness)))
			for _, item := range in.witness {
				b = appendVarBytes(b, item)
			}
		}
	}
	return binary.LittleEndian.AppendUint32(b, tx.lockTime)
}

// nullData returns the script OP_RETURN <data> with the shortest push, as txscript.NullDataScript.
func nullData(data []byte) []byte {
	if len(data) <= 75 {
		return append([]byte{0x6a, byte(len(data))}, data...)
	}
	return append([]byte{0x6a, 0x4c, byte(len(data))}, data...)
}

// fill returns n deterministic bytes named by label.
func fill(label string, n int) []byte {
	var out []byte
	for i := 0; len(out) < n; i++ {
		h := sha256.Sum256(fmt.Appendf(nil, "%s %d", label, i))
		out = append(out, h[:]...)
	}
	return out[:n]
}

// anchorTx returns a transaction as the anchorer makes one: one input from the notary's key
// (a P2WPKH spend, signalling RBF), an OP_RETURN output whose data is tag ‖ root and a change
// output. Extra outputs come after those.
func anchorTx(root merkle.Hash, tag []byte, extra ...btcOut) *btcTx {
	payload := append(append([]byte{}, tag...), root[:]...)
	change := append([]byte{0x00, 0x14}, fill("change key hash", 20)...)
	return &btcTx{
		version: 2,
		inputs: []btcIn{{
			prevHash:  merkle.DoubleSHA256([]byte("funding transaction")),
			prevIndex: 1,
			sequence:  0xfffffffd,
			witness:   [][]byte{fill("signature", 71), append([]byte{0x02}, fill("pubkey", 32)...)},
		}},
		outputs: append([]btcOut{
			{value: 0, script: nullData(payload)},
			{value: 49_999_750, script: change},
		}, extra...),
	}
}

// btcBlock is a block of transactions, ours among them.
type btcBlock struct {
	txids   []merkle.Hash
	txIndex int
	branch  []merkle.Hash
	header  notary.Header
}

// regtestBits is the compact target of regtest: anything with a top hash byte below 0x80 meets it.
const regtestBits = 0x207fffff

// blockTime is the time of the synthetic blocks, after the entries' receive times.
var blockTime = time.Unix(1_795_650_600, 0).UTC()

// newBlock returns a block of nTx transactions with tx at txIndex, and its header. With work
// true the header's nonce is ground until it meets the regtest target; with work false until
// it fails to.
func newBlock(tb testing.TB, tx []byte, nTx, txIndex int, work bool) *btcBlock {
	tb.Helper()
	b := &btcBlock{txIndex: txIndex}
	for i := range nTx {
		if i == txIndex {
			b.txids = append(b.txids, merkle.DoubleSHA256(tx))
			continue
		}
		b.txids = append(b.txids, merkle.DoubleSHA256(fmt.Appendf(nil, "other transaction %d", i)))
	}
	b.branch = merkle.BlockMerkleBranch(b.txids, txIndex)
	b.header = newHeader(tb, merkle.BlockMerkleRoot(b.txids), work)
	return b
}

// newHeader returns a regtest header with the given Merkle root, whose proof of work passes
// if work is true and fails if it is false.
func newHeader(tb testing.TB, root merkle.Hash, work bool) notary.Header {
	tb.Helper()
	return newHeaderBits(tb, root, regtestBits, work)
}

// newHeaderBits returns a header with the given Merkle root and bits whose hash meets the
// target the bits state if meets is true, and does not if it is false, whatever the network.
func newHeaderBits(tb testing.TB, root merkle.Hash, bits uint32, meets bool) notary.Header {
	tb.Helper()
	target := claimedTarget(bits)
	var h notary.Header
	binary.LittleEndian.PutUint32(h[0:], 0x20000000)
	prev := merkle.DoubleSHA256([]byte("previous block"))
	copy(h[4:36], prev[:])
	copy(h[36:68], root[:])
	binary.LittleEndian.PutUint32(h[68:], uint32(blockTime.Unix()))
	binary.LittleEndian.PutUint32(h[72:], bits)
	for nonce := uint32(0); nonce < 1<<20; nonce++ {
		binary.LittleEndian.PutUint32(h[76:], nonce)
		hash := h.Hash()
		slices.Reverse(hash[:])
		if (new(big.Int).SetBytes(hash[:]).Cmp(target) <= 0) == meets {
			return h
		}
	}
	tb.Fatal("no nonce found")
	return h
}

// claimedTarget returns the target that a compact bits field states, read as Bitcoin Core
// reads it without its checks: for a sign bit or an overflow it is still a number.
func claimedTarget(bits uint32) *big.Int {
	t := big.NewInt(int64(bits & 0x007fffff))
	exp := uint(bits >> 24)
	if exp <= 3 {
		return t.Rsh(t, 8*(3-exp))
	}
	return t.Lsh(t, 8*(exp-3))
}

// bitcoin returns the Bitcoin section of a proof through tx in block b.
func (b *btcBlock) bitcoin(tx []byte, height int64) *notary.ProofBitcoin {
	return &notary.ProofBitcoin{
		Network: "regtest",
		Tx:      tx,
		TxIndex: b.txIndex,
		Branch:  b.branch,
		Header:  b.header[:],
		Height:  height,
	}
}

// The shape of the synthetic log and block of the golden proofs.
const (
	fixtureLogSize = 13
	fixtureIndex   = 6
	fixtureNTx     = 5
	fixtureTxIndex = 2
	fixtureHeight  = 144
	fixtureService = "https://notary.example"
	fixtureTag     = "notary/v1:"
)

// fixture is the material of a proof of entry fixtureIndex in a synthetic log, anchored in a
// synthetic regtest block.
type fixture struct {
	log   *logtest.MemLog
	entry notary.Entry
	cp    notary.Checkpoint
	tx    *btcTx
	block *btcBlock
}

// newFixture builds the fixture; tag goes before the root in the OP_RETURN data.
func newFixture(tb testing.TB, tag []byte) *fixture {
	tb.Helper()
	f := &fixture{log: newMemLog(tb, fixtureLogSize)}
	f.entry = f.log.Entries[fixtureIndex]
	var err error
	f.cp, err = notary.SignCheckpoint(fixtureLogSize, f.log.Root(tb, fixtureLogSize), newSigner(tb, logSkey))
	if err != nil {
		tb.Fatal(err)
	}
	f.tx = anchorTx(f.cp.Root, tag)
	f.block = newBlock(tb, f.tx.serialize(false), fixtureNTx, fixtureTxIndex, true)
	return f
}

// pending returns the pending proof of the fixture's entry.
func (f *fixture) pending(tb testing.TB) *notary.Proof {
	tb.Helper()
	e := f.entry
	return &notary.Proof{
		Format: notary.ProofFormat,
		Digest: e.Digest,
		Entry:  notary.ProofEntry{Index: e.Index, ReceivedMS: e.Time.UnixMilli(), Nonce: e.Nonce[:]},
		Log: notary.ProofLog{
			Key:        logVkey,
			Checkpoint: string(f.cp.Note),
			Inclusion:  f.log.Inclusion(tb, e.Index, f.cp.Size),
		},
		Service: fixtureService,
	}
}

// complete returns the complete proof of the fixture's entry.
func (f *fixture) complete(tb testing.TB) *notary.Proof {
	tb.Helper()
	p := f.pending(tb)
	tx := f.tx.serialize(false)
	p.Bitcoin = f.block.bitcoin(tx, fixtureHeight)
	return p
}

// logKeys returns the log's key as the verifiers to pass to Verify: what a verifier who
// trusts the log passes.
func logKeys(tb testing.TB) note.Verifiers {
	tb.Helper()
	return note.VerifierList(mustVerifier(tb, logVkey))
}

// marshal encodes p with MarshalProof.
func marshal(tb testing.TB, p *notary.Proof) []byte {
	tb.Helper()
	b, err := notary.MarshalProof(p)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// stepOf returns the step of a *VerifyError, "" for nil, and fails for any other error.
func stepOf(tb testing.TB, err error) string {
	tb.Helper()
	if err == nil {
		return ""
	}
	var ve *notary.VerifyError
	if !errors.As(err, &ve) {
		tb.Fatalf("error %v (%T) is not a *notary.VerifyError", err, err)
	}
	return ve.Step
}
