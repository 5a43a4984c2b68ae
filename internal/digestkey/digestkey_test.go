package digestkey

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"testing"

	"github.com/notary-dev/notary/internal/depcheck"
)

// TestKeyIsCBCMAC checks Key against the standard library's CBC mode: the last block of the
// digest's CBC encryption under a zero IV, its first 8 bytes.
func TestKeyIsCBCMAC(t *testing.T) {
	secret := []byte("0123456789abcdef")
	k, err := New(secret)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(secret)
	for i := range 100 {
		var d [32]byte
		for j := range d {
			d[j] = byte(i*31 + j*7)
		}
		out := make([]byte, 32)
		cipher.NewCBCEncrypter(block, make([]byte, 16)).CryptBlocks(out, d[:])
		if got, want := k.Key(&d), binary.BigEndian.Uint64(out[16:24]); got != want {
			t.Fatalf("Key(%x) = %#x, want %#x", d, got, want)
		}
	}
}

// TestChosenDigestsSpread: digests that share all but one byte, at either end, get keys as
// different as any, and another secret gives other keys.
func TestChosenDigestsSpread(t *testing.T) {
	k1, _ := New([]byte("0123456789abcdef"))
	k2, _ := New([]byte("fedcba9876543210"))
	seen := make(map[uint64]bool)
	for _, at := range []int{0, 7, 8, 15, 16, 31} {
		for v := 1; v < 256; v++ {
			var d [32]byte
			d[at] = byte(v)
			key := k1.Key(&d)
			if seen[key] {
				t.Fatalf("two digests of one byte's difference share key %#x", key)
			}
			seen[key] = true
			if k2.Key(&d) == key {
				t.Fatalf("two secrets give %x one key", d)
			}
		}
	}
	if zero := k1.Key(&[32]byte{}); seen[zero] {
		t.Fatalf("the zero digest shares key %#x with one of a byte's difference", zero)
	}
}

func TestSecretSize(t *testing.T) {
	for _, n := range []int{0, 15, 17, 32} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New with a %d-byte secret: no error", n)
		}
	}
}

func TestImportsStaySmall(t *testing.T) {
	depcheck.Only(t)
}
