package notary

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/notary-dev/notary/merkle"
)

// EntryVersion is the version byte that starts every canonical entry.
const EntryVersion = 1

// EntrySize is the length of an entry's canonical bytes: version, digest, time, nonce.
const EntrySize = 1 + 32 + 8 + 16

// Digest is the SHA-256 digest of a document. The service never sees the document itself.
type Digest [32]byte

// ErrBadDigest is returned (wrapped) by ParseDigest for anything but 64 hex characters.
var ErrBadDigest = errors.New("digest must be 64 hex characters (a SHA-256)")

// ParseDigest decodes a hex SHA-256 digest. Upper- and lower-case hex are accepted.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if s == "" {
		return d, fmt.Errorf("%w: it is empty", ErrBadDigest)
	}
	if len(s) != 64 {
		return d, fmt.Errorf("%w: got %d characters", ErrBadDigest, len(s))
	}
	if _, err := hex.Decode(d[:], []byte(strings.ToLower(s))); err != nil {
		return d, fmt.Errorf("%w: %v", ErrBadDigest, err)
	}
	return d, nil
}

// String returns the lower-case hex encoding of d.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// Entry is one record of the log: a digest, when the service received it and a random nonce.
// The nonce keeps the sibling hashes in one user's proof from revealing other users' digests.
type Entry struct {
	Index  int64     // position in the log, from 0
	Digest Digest    // SHA-256 of the document
	Time   time.Time // receive time, millisecond precision
	Nonce  [16]byte  // random, chosen by the service
}

// Bytes returns the canonical encoding that the log hashes:
// version (1 byte) ‖ digest (32) ‖ receive time in Unix milliseconds (8, big-endian) ‖ nonce (16).
func (e Entry) Bytes() []byte {
	b := make([]byte, 0, EntrySize)
	b = append(b, EntryVersion)
	b = append(b, e.Digest[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixMilli()))
	return append(b, e.Nonce[:]...)
}

// LeafHash returns the RFC 6962 leaf hash of the entry: SHA-256(0x00 ‖ Bytes()).
func (e Entry) LeafHash() merkle.Hash {
	return merkle.LeafHash(e.Bytes())
}
