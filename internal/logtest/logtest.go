// Package logtest holds what the tests of several packages share about a log: fixed test
// keys, deterministic digests and entries, and a log held in memory to compare with.
package logtest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// The keys are fixed so that golden files stay stable. They sign test data only.
const (
	LogName = "notary.example/log"
	LogSkey = "PRIVATE+KEY+notary.example/log+11b508bc+AUpYQ/Kir/yTUxo4yratT4HuDThu9odTTADNWXqIZs29"
	LogVkey = "notary.example/log+11b508bc+ASei22vQPCEQjzhl0nXHlLvpGIyrENIzpqQWgQ6nIf1D"
)

// Signer returns the signer of skey.
func Signer(tb testing.TB, skey string) note.Signer {
	tb.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// Digest returns the digest of the made-up document number i.
func Digest(i int64) notary.Digest {
	return sha256.Sum256(fmt.Appendf(nil, "document %d", i))
}

// Entry returns a deterministic entry for index i, of digest Digest(i).
func Entry(i int64) notary.Entry {
	e := notary.Entry{
		Index:  i,
		Digest: Digest(i),
		Time:   time.UnixMilli(1_795_650_000_123 + 37*i).UTC(),
	}
	nonce := sha256.Sum256(fmt.Appendf(nil, "nonce %d", i))
	copy(e.Nonce[:], nonce[:])
	return e
}

// MemLog is a log held in memory; it is a merkle.HashReader over its stored hashes.
type MemLog struct {
	Entries []notary.Entry
	Hashes  []merkle.Hash // in storage order (merkle.StoredHashIndex)
}

// NewMemLog returns a log of the n entries Entry(0) … Entry(n-1).
func NewMemLog(tb testing.TB, n int64) *MemLog {
	tb.Helper()
	l := &MemLog{}
	for i := range n {
		l.Append(tb, Entry(i))
	}
	return l
}

// ReadHashes implements merkle.HashReader.
func (l *MemLog) ReadHashes(indexes []int64) ([]merkle.Hash, error) {
	out := make([]merkle.Hash, len(indexes))
	for k, i := range indexes {
		if i < 0 || i >= int64(len(l.Hashes)) {
			return nil, fmt.Errorf("logtest: no stored hash %d", i)
		}
		out[k] = l.Hashes[i]
	}
	return out, nil
}

// Append adds e as the next entry; e.Index must be the log's size.
func (l *MemLog) Append(tb testing.TB, e notary.Entry) {
	tb.Helper()
	n := int64(len(l.Entries))
	if e.Index != n {
		tb.Fatalf("logtest: appending entry %d to a log of %d", e.Index, n)
	}
	hs, err := merkle.StoredHashes(n, e.LeafHash(), l)
	if err != nil {
		tb.Fatal(err)
	}
	l.Entries = append(l.Entries, e)
	l.Hashes = append(l.Hashes, hs...)
}

// Root returns the root of the tree of the first size entries.
func (l *MemLog) Root(tb testing.TB, size int64) merkle.Hash {
	tb.Helper()
	r, err := merkle.TreeHash(size, l)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// Inclusion returns the inclusion path of entry index in the tree of size entries.
func (l *MemLog) Inclusion(tb testing.TB, index, size int64) []merkle.Hash {
	tb.Helper()
	p, err := merkle.InclusionProof(index, size, l)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// BlockTime is the time of the blocks Anchored makes.
var BlockTime = time.Unix(1_795_650_600, 0).UTC()

// Anchored returns a Bitcoin regtest attestation of root: a transaction whose OP_RETURN
// output carries tag ‖ root, the third of five transactions of a block whose header meets
// the regtest proof-of-work target.
func Anchored(tb testing.TB, root merkle.Hash, tag []byte, height int64) *notary.ProofBitcoin {
	tb.Helper()
	payload := append(append([]byte{}, tag...), root[:]...)
	tx := binary.LittleEndian.AppendUint32(nil, 2) // version
	tx = append(tx, 1)                             // one input
	prev := merkle.DoubleSHA256([]byte("funding transaction"))
	tx = append(tx, prev[:]...)
	tx = binary.LittleEndian.AppendUint32(tx, 1)          // its output index
	tx = append(tx, 0)                                    // empty script (a witness spend)
	tx = binary.LittleEndian.AppendUint32(tx, 0xfffffffd) // sequence: signals replacement
	tx = append(tx, 1)                                    // one output
	tx = binary.LittleEndian.AppendUint64(tx, 0)
	tx = append(tx, byte(2+len(payload)), 0x6a, byte(len(payload))) // OP_RETURN <payload>
	tx = append(tx, payload...)
	tx = binary.LittleEndian.AppendUint32(tx, 0) // lock time

	const nTx, txIndex = 5, 2
	txids := make([]merkle.Hash, nTx)
	for i := range txids {
		txids[i] = merkle.DoubleSHA256(fmt.Appendf(nil, "other transaction %d", i))
	}
	txids[txIndex] = merkle.DoubleSHA256(tx)

	var h notary.Header
	binary.LittleEndian.PutUint32(h[0:], 0x20000000)
	mr := merkle.BlockMerkleRoot(txids)
	copy(h[36:68], mr[:])
	binary.LittleEndian.PutUint32(h[68:], uint32(BlockTime.Unix()))
	binary.LittleEndian.PutUint32(h[72:], 0x207fffff) // regtest's target
	for nonce := uint32(0); h.CheckProofOfWork("regtest") != nil; nonce++ {
		binary.LittleEndian.PutUint32(h[76:], nonce)
	}
	return &notary.ProofBitcoin{
		Network: "regtest", Tx: tx, TxIndex: txIndex,
		Branch: merkle.BlockMerkleBranch(txids, txIndex), Header: h[:], Height: height,
	}
}
