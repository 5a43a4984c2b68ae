package notary

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/notary-dev/notary/merkle"
)

// HeaderSize is the size of a Bitcoin block header.
const HeaderSize = 80

// maxTxSize caps the transactions a proof may carry; an anchoring transaction is ~250 bytes.
const maxTxSize = 100_000

// Header is a parsed 80-byte Bitcoin block header.
type Header [HeaderSize]byte

// Hash returns the block hash in internal byte order (explorers print it reversed).
func (h Header) Hash() merkle.Hash { return merkle.DoubleSHA256(h[:]) }

// MerkleRoot returns the root of the block's transaction Merkle tree (internal byte order).
func (h Header) MerkleRoot() merkle.Hash {
	var r merkle.Hash
	copy(r[:], h[36:68])
	return r
}

// Time returns the block's timestamp.
func (h Header) Time() time.Time {
	return time.Unix(int64(binary.LittleEndian.Uint32(h[68:72])), 0).UTC()
}

// CheckProofOfWork reports whether the header's hash meets the target that its bits state,
// and whether that target is one a header of the named network may state: no easier than
// the network's proof-of-work limit, as Bitcoin's consensus rules require. Without the second check, a
// header whose bits claim an easy or overflowing target "meets its own target" at the cost
// of a couple of hashes. It does not check that the target is the one the chain required
// at the block's height: only a node that follows the chain can.
func (h Header) CheckProofOfWork(network string) error {
	n, ok := LookupNetwork(network)
	if !ok {
		return fmt.Errorf("network %q is not one of %s", network, networkNames())
	}
	bits := binary.LittleEndian.Uint32(h[72:76])
	target := compactTarget(bits)
	if target == nil {
		return fmt.Errorf("header bits %08x state no valid target (negative, zero or overflowing)", bits)
	}
	if target.Cmp(n.powLimit) > 0 {
		return fmt.Errorf("header bits %08x state a target easier than %s allows (its proof-of-work limit)", bits, n.Name)
	}
	hash := h.Hash()
	reversed := make([]byte, len(hash))
	for i, b := range hash {
		reversed[len(hash)-1-i] = b
	}
	if new(big.Int).SetBytes(reversed).Cmp(target) > 0 {
		return errors.New("header hash does not meet its difficulty target")
	}
	return nil
}

// compactTarget returns the target that a header's bits field states in Bitcoin's compact
// form (mantissa 0x007fffff, sign bit 0x00800000, exponent the top byte: the number of bytes),
// or nil if it states none: negative, zero, or more than 256 bits.
func compactTarget(bits uint32) *big.Int {
	mantissa := int64(bits & 0x007fffff)
	exponent := uint(bits >> 24)
	if bits&0x00800000 != 0 && mantissa != 0 {
		return nil // negative
	}
	target := big.NewInt(mantissa)
	if exponent <= 3 {
		target.Rsh(target, 8*(3-exponent))
	} else {
		target.Lsh(target, 8*(exponent-3))
	}
	if target.Sign() == 0 || target.BitLen() > 256 {
		return nil
	}
	return target
}

// ReverseHex returns the byte-reversed hex of h: how explorers and nodes print txids and block hashes.
func ReverseHex(h merkle.Hash) string {
	var r merkle.Hash
	for i := range h {
		r[len(h)-1-i] = h[i]
	}
	return r.String()
}

// findCommitment parses a transaction in non-witness serialization, every count in its
// shortest compact size, and returns the offset of root inside tx, which must be the last
// 32 bytes of the data of an OP_RETURN output.
func findCommitment(tx []byte, root merkle.Hash) (int, error) {
	if len(tx) > maxTxSize {
		return 0, fmt.Errorf("transaction is %d bytes, more than %d", len(tx), maxTxSize)
	}
	if len(tx) == 2*merkle.HashSize {
		// A 64-byte "transaction" could be an inner node of the block's tree passed off as a leaf.
		return 0, errors.New("transaction is 64 bytes: refused, it could be a Merkle node in disguise")
	}
	r := txReader{b: tx}
	r.skip(4) // version
	nIn := r.varint()
	if r.err == nil && nIn == 0 {
		return 0, errors.New("transaction has no inputs (a witness serialization? the proof needs the non-witness one)")
	}
	for i := uint64(0); i < nIn && r.err == nil; i++ {
		r.skip(36)              // previous outpoint
		r.skip(int(r.varint())) // script
		r.skip(4)               // sequence
	}
	nOut := r.varint()
	found, near := -1, false
	for i := uint64(0); i < nOut && r.err == nil; i++ {
		r.skip(8) // value
		n := int(r.varint())
		start := r.off
		r.skip(n)
		if r.err != nil {
			break
		}
		script := tx[start : start+n]
		if off, ok := opReturnRoot(script, root); ok {
			if found >= 0 {
				return 0, errors.New("transaction commits the root in more than one output")
			}
			found = start + off
		} else if len(script) > 0 && script[0] == 0x6a && bytes.Contains(script, root[:]) {
			near = true
		}
	}
	r.skip(4) // lock time
	if r.err != nil {
		return 0, fmt.Errorf("transaction is malformed: %v", r.err)
	}
	if r.off != len(tx) {
		return 0, fmt.Errorf("transaction has %d trailing bytes", len(tx)-r.off)
	}
	if found < 0 && near {
		return 0, errors.New("an OP_RETURN output holds the log root, but not as the end of one minimal push of 32 to 80 bytes")
	}
	if found < 0 {
		return 0, errors.New("no OP_RETURN output of the transaction commits the log root")
	}
	return found, nil
}

// maxOpReturnData is the most data an OP_RETURN output may push to commit a root: the 80
// bytes of Bitcoin's standard OP_RETURN, a tag of at most 48 bytes then the root.
const maxOpReturnData = 80

// opReturnRoot reports whether script is OP_RETURN followed by one push whose data ends
// with root, and where root starts within script. The push is minimal, as Bitcoin's
// MINIMALDATA rule has it (a direct push of up to 75 bytes, OP_PUSHDATA1 beyond), and its
// data 32 to 80 bytes: one script, one way to write it.
func opReturnRoot(script []byte, root merkle.Hash) (int, bool) {
	const opReturn, opPushdata1 = 0x6a, 0x4c
	if len(script) < 2 || script[0] != opReturn {
		return 0, false
	}
	dataStart, n := 2, int(script[1])
	switch {
	case script[1] == opPushdata1 && len(script) >= 3:
		dataStart, n = 3, int(script[2])
		if n < opPushdata1 {
			return 0, false // a direct push would do
		}
	case script[1] > opPushdata1:
		return 0, false
	}
	if dataStart+n != len(script) || n < merkle.HashSize || n > maxOpReturnData {
		return 0, false
	}
	off := len(script) - merkle.HashSize
	if merkle.Hash(script[off:]) != root {
		return 0, false
	}
	return off, true
}

// txReader reads Bitcoin's serialization, remembering the first error.
type txReader struct {
	b   []byte
	off int
	err error
}

func (r *txReader) skip(n int) {
	if r.err != nil {
		return
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = errors.New("unexpected end")
		return
	}
	r.off += n
}

func (r *txReader) varint() uint64 {
	if r.err != nil || r.off >= len(r.b) {
		r.skip(1)
		return 0
	}
	prefix := r.b[r.off]
	r.off++
	var size int
	switch prefix {
	case 0xfd:
		size = 2
	case 0xfe:
		size = 4
	case 0xff:
		size = 8
	default:
		return uint64(prefix)
	}
	start := r.off
	r.skip(size)
	if r.err != nil {
		return 0
	}
	var v [8]byte
	copy(v[:], r.b[start:r.off])
	n := binary.LittleEndian.Uint64(v[:])
	if n < [...]uint64{2: 0xfd, 4: 0x10000, 8: 0x100000000}[size] {
		// Bitcoin refuses a count written longer than it needs: one transaction, one text.
		r.err = fmt.Errorf("count %d is not in its shortest compact size", n)
		return 0
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("count %d is larger than the transaction", n)
		return 0
	}
	return n
}
