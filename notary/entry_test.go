package notary_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestEntryBytes(t *testing.T) {
	helloDigest := notary.Digest(sha256.Sum256([]byte("hello world\n")))
	var counting [16]byte
	for i := range counting {
		counting[i] = byte(i)
	}
	tests := []struct {
		name  string
		entry notary.Entry
		// wantHex, if set, is the canonical encoding computed independently of the package.
		wantHex  string
		wantLeaf string
	}{
		{
			name: "known answer",
			entry: notary.Entry{
				Index: 42, Digest: helloDigest,
				Time: time.UnixMilli(1_795_650_000_123), Nonce: counting,
			},
			wantHex: "01" +
				"a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447" +
				"000001a2151494fb" +
				"000102030405060708090a0b0c0d0e0f",
			wantLeaf: "f35ead5721d64c110cd72d73427c7c70473aa1e3c82562ab03f19a7e406a5cdd",
		},
		{
			name:  "zero entry at the epoch",
			entry: notary.Entry{Time: time.UnixMilli(0)},
		},
		{
			name: "sub-millisecond time is truncated",
			entry: notary.Entry{
				Digest: testDigest(1),
				Time:   time.Unix(1_795_650_000, 123_999_999),
				Nonce:  testEntry(1).Nonce,
			},
		},
		{
			name: "time zone does not matter",
			entry: notary.Entry{
				Digest: testDigest(2),
				Time:   time.UnixMilli(1_795_650_000_123).In(time.FixedZone("UTC+5", 5*3600)),
			},
		},
		{name: "deterministic test entry", entry: testEntry(7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.entry
			got := e.Bytes()
			if len(got) != notary.EntrySize || notary.EntrySize != 57 {
				t.Fatalf("len(Bytes()) = %d, EntrySize = %d, want 57", len(got), notary.EntrySize)
			}
			// Build the layout by hand: version 1 ‖ digest ‖ big-endian Unix ms ‖ nonce.
			want := []byte{1}
			want = append(want, e.Digest[:]...)
			want = binary.BigEndian.AppendUint64(want, uint64(e.Time.UnixMilli()))
			want = append(want, e.Nonce[:]...)
			if !bytes.Equal(got, want) {
				t.Errorf("Bytes() = %x\nwant      %x", got, want)
			}
			if tt.wantHex != "" && !bytes.Equal(got, mustHex(t, tt.wantHex)) {
				t.Errorf("Bytes() = %x\nwant      %s", got, tt.wantHex)
			}
			if got[0] != notary.EntryVersion {
				t.Errorf("version byte = %d, want EntryVersion %d", got[0], notary.EntryVersion)
			}
			leaf := e.LeafHash()
			if leaf != merkle.LeafHash(got) {
				t.Errorf("LeafHash() = %v, want merkle.LeafHash(Bytes()) = %v", leaf, merkle.LeafHash(got))
			}
			if prefixed := sha256.Sum256(append([]byte{0}, got...)); leaf != merkle.Hash(prefixed) {
				t.Errorf("LeafHash() = %v, want SHA-256(0x00 ‖ entry) = %x", leaf, prefixed)
			}
			if tt.wantLeaf != "" && leaf.String() != tt.wantLeaf {
				t.Errorf("LeafHash() = %v, want %s", leaf, tt.wantLeaf)
			}
			// The index is the entry's position, not part of what is hashed.
			moved := e
			moved.Index += 1000
			if !bytes.Equal(moved.Bytes(), got) {
				t.Error("Bytes() depends on the index")
			}
		})
	}
}

func TestParseDigest(t *testing.T) {
	lower := "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"
	want := notary.Digest(sha256.Sum256([]byte("hello world\n")))
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"lower case", lower, true},
		{"upper case", strings.ToUpper(lower), true},
		{"mixed case", "A948904F2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447", true},
		{"empty", "", false},
		{"63 characters", lower[:63], false},
		{"65 characters", lower + "0", false},
		{"non-hex character", "g" + lower[1:], false},
		{"0x prefix", "0x" + lower[2:], false},
		{"space inside", lower[:31] + " " + lower[32:], false},
		{"trailing newline", lower[:63] + "\n", false},
		{"32 raw bytes, not hex", string(want[:]), false},
		{"64 bytes of multi-byte runes", strings.Repeat("é", 32), false},
		{"SHA-512 length", lower + lower, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := notary.ParseDigest(tt.in)
			if !tt.ok {
				if err == nil {
					t.Fatalf("ParseDigest(%q) = %v, want an error", tt.in, got)
				}
				if !errors.Is(err, notary.ErrBadDigest) {
					t.Errorf("ParseDigest(%q) error %v does not wrap ErrBadDigest", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDigest(%q): %v", tt.in, err)
			}
			if got != want {
				t.Errorf("ParseDigest(%q) = %v, want %v", tt.in, got, want)
			}
			if got.String() != lower {
				t.Errorf("String() = %q, want the lower-case %q", got.String(), lower)
			}
		})
	}
}

func TestDigestText(t *testing.T) {
	d := testDigest(3)
	text, err := d.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if string(text) != d.String() {
		t.Errorf("MarshalText() = %s, want %s", text, d)
	}
	var back notary.Digest
	if err := back.UnmarshalText(text); err != nil || back != d {
		t.Errorf("UnmarshalText(%s) = %v, %v; want %v", text, back, err, d)
	}
	if err := back.UnmarshalText([]byte("abc")); !errors.Is(err, notary.ErrBadDigest) {
		t.Errorf("UnmarshalText(abc) = %v, want an error wrapping ErrBadDigest", err)
	}
}
