package tsa

import (
	"crypto"
	"crypto/sha256"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
)

// How notary ties a token to an entry of its log (docs/rfc3161.md).

// EntryDigest returns the digest notary logs for an imprint: a SHA-256 imprint is logged
// as itself, so that the token and a notary proof of the same file share one entry; a
// SHA-384 or SHA-512 imprint as SHA-256(DER of the algorithm's OBJECT IDENTIFIER ‖ the
// imprint), which no SHA-256 imprint and no other algorithm's imprint can equal.
func EntryDigest(h crypto.Hash, imprint []byte) [32]byte {
	if h == crypto.SHA256 && len(imprint) == sha256.Size {
		return [32]byte(imprint)
	}
	oid, _ := oidOfHash(h)
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1ObjectIdentifier(oid)
	d := sha256.New()
	d.Write(b.BytesOrPanic())
	d.Write(imprint)
	return [32]byte(d.Sum(nil))
}

// Serial returns the serial number of a token for the log entry at index: index·2⁶⁴ +
// random. The same imprint asked for twice gets the same entry, so the index alone would
// repeat; the random low 64 bits keep every token's serial number its own, as RFC 3161
// requires, and the index stays readable (SerialIndex).
func Serial(index int64, random uint64) *big.Int {
	n := new(big.Int).Lsh(big.NewInt(index), 64)
	return n.Or(n, new(big.Int).SetUint64(random))
}

// SerialIndex returns the log index a serial number made by Serial names.
func SerialIndex(serial *big.Int) (int64, bool) {
	if serial.Sign() < 0 {
		return 0, false
	}
	idx := new(big.Int).Rsh(serial, 64)
	if !idx.IsInt64() {
		return 0, false
	}
	return idx.Int64(), true
}
