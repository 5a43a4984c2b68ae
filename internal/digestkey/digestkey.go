// Package digestkey derives the 64-bit keys under which the stores' digest indexes file
// digests.
//
// Clients choose the digests they submit: they need not be hashes of anything. Were a key a
// digest's own first bytes, a client could submit many digests that share them, and every
// lookup of such a digest would read the entries of all of them. A key is therefore a
// pseudorandom function of the whole digest under a secret of the index (AES-CBC-MAC of its
// two 16-byte blocks, truncated to 8 bytes): without the secret, the keys of chosen digests
// are as random as those of any others.
package digestkey

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
)

// SecretSize is the size of a Keyer's secret.
const SecretSize = 16

// Keyer derives keys under one secret. It is safe for concurrent use.
type Keyer struct {
	block cipher.Block
}

// New returns a Keyer with secret, which must be SecretSize random bytes kept with the
// index: keys under another secret are other keys.
func New(secret []byte) (*Keyer, error) {
	if len(secret) != SecretSize {
		return nil, fmt.Errorf("digestkey: the secret has %d bytes, want %d", len(secret), SecretSize)
	}
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, fmt.Errorf("digestkey: %w", err)
	}
	return &Keyer{block: block}, nil
}

// Key returns the key of digest d.
func (k *Keyer) Key(d *[32]byte) uint64 {
	var b [aes.BlockSize]byte
	k.block.Encrypt(b[:], d[:16])
	for i := range b {
		b[i] ^= d[16+i]
	}
	k.block.Encrypt(b[:], b[:])
	return binary.BigEndian.Uint64(b[:8])
}
