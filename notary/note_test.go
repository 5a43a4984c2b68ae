package notary_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// signNote signs text with skey, as a key holder could sign anything.
func signNote(tb testing.TB, text, skey string) []byte {
	tb.Helper()
	msg, err := note.Sign(&note.Note{Text: text}, newSigner(tb, skey))
	if err != nil {
		tb.Fatal(err)
	}
	return msg
}

// cosign adds the signature of skey to a signed note.
func cosign(tb testing.TB, signed []byte, skey string) []byte {
	tb.Helper()
	n, err := note.Open(signed, note.VerifierList(mustVerifier(tb, logVkey)))
	if err != nil {
		tb.Fatal(err)
	}
	msg, err := note.Sign(n, newSigner(tb, skey))
	if err != nil {
		tb.Fatal(err)
	}
	return msg
}

func mustVerifier(tb testing.TB, vkey string) note.Verifier {
	tb.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// receiptText returns the text of a receipt as docs/proof-format.md specifies it.
func receiptText(origin string, e notary.Entry) string {
	return fmt.Sprintf("notary-receipt/v1\n%s\n%d\n%d\n%s\n%s\n",
		origin, e.Index, e.Time.UnixMilli(), e.Digest, e.LeafHash())
}

// checkpointText returns the text of a checkpoint as C2SP tlog-checkpoint specifies it.
func checkpointText(origin string, size int64, root merkle.Hash) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root[:]))
}

// flipInText replaces from by to in the text part of a signed note (before the blank line),
// leaving the signatures as they were.
func flipInText(tb testing.TB, signed []byte, from, to string) []byte {
	tb.Helper()
	text, sigs, ok := bytes.Cut(signed, []byte("\n\n"))
	if !ok || !bytes.Contains(text, []byte(from)) {
		tb.Fatalf("%q not in the note's text", from)
	}
	out := bytes.Replace(text, []byte(from), []byte(to), 1)
	return append(append(out, "\n\n"...), sigs...)
}

func TestReceiptRoundTrip(t *testing.T) {
	for _, e := range []notary.Entry{
		testEntry(0),
		testEntry(6),
		{Index: 1 << 40, Digest: testDigest(9), Time: time.UnixMilli(0).UTC()},
	} {
		t.Run(fmt.Sprintf("index %d", e.Index), func(t *testing.T) {
			r, err := notary.SignReceipt(logName, e, newSigner(t, logSkey))
			if err != nil {
				t.Fatal(err)
			}
			if want := receiptText(logName, e); !strings.HasPrefix(r.Note, want+"\n— "+logName+" ") {
				t.Errorf("receipt note =\n%s\nwant the text\n%s", r.Note, want)
			}
			got, err := notary.OpenReceipt([]byte(r.Note), logVkey)
			if err != nil {
				t.Fatalf("OpenReceipt: %v", err)
			}
			if got.Origin != logName || got.Index != e.Index || !got.Time.Equal(e.Time) ||
				got.Digest != e.Digest || got.LeafHash != e.LeafHash() || got.Note != r.Note {
				t.Errorf("OpenReceipt = %+v\nwant the entry %+v", got, e)
			}
			if got.KeyID != 0x11b508bc || got.KeyID != r.KeyID {
				t.Errorf("KeyID = %08x (signed %08x), want the key hash 11b508bc", got.KeyID, r.KeyID)
			}
			if len(got.Signature) != 64 || !bytes.Equal(got.Signature, r.Signature) {
				t.Errorf("Signature = %x, want the 64 bytes %x", got.Signature, r.Signature)
			}
			// Ed25519 is deterministic: signing again gives the same receipt.
			again, err := notary.SignReceipt(logName, e, newSigner(t, logSkey))
			if err != nil || again.Note != r.Note {
				t.Errorf("signing again gave %q, %v; want the same note", again.Note, err)
			}
		})
	}
}

func TestOpenReceiptRefuses(t *testing.T) {
	e := testEntry(6)
	r, err := notary.SignReceipt(logName, e, newSigner(t, logSkey))
	if err != nil {
		t.Fatal(err)
	}
	valid := []byte(r.Note)
	cp, err := notary.SignCheckpoint(13, merkle.Hash(testDigest(1)), newSigner(t, logSkey))
	if err != nil {
		t.Fatal(err)
	}
	sigFlipped := bytes.Clone(valid)
	// A character in the middle of the signature's base64 (the last one has unused bits).
	sigFlipped[len(sigFlipped)-20] ^= 0x01

	tests := []struct {
		name   string
		signed []byte
		vkey   string
	}{
		{"tampered index", flipInText(t, valid, "\n6\n", "\n7\n"), logVkey},
		{"tampered digest", flipInText(t, valid, e.Digest.String(), testDigest(7).String()), logVkey},
		{"tampered signature", sigFlipped, logVkey},
		{"another log's key", valid, otherVkey},
		{"another key with the log's name", valid, forgerVkey},
		{"signed by another key with the log's name", signNote(t, receiptText(logName, e), forgerSkey), logVkey},
		{"checkpoint presented as a receipt", cp.Note, logVkey},
		{"seven lines", signNote(t, receiptText(logName, e)+"extra\n", logSkey), logVkey},
		{"wrong header", signNote(t, strings.Replace(receiptText(logName, e), "/v1", "/v2", 1), logSkey), logVkey},
		{"negative index", signNote(t, strings.Replace(receiptText(logName, e), "\n6\n", "\n-6\n", 1), logSkey), logVkey},
		{"bad digest", signNote(t, strings.Replace(receiptText(logName, e), e.Digest.String(), "zz", 1), logSkey), logVkey},
		{"bad leaf hash", signNote(t, strings.Replace(receiptText(logName, e), e.LeafHash().String(), "00", 1), logSkey), logVkey},
		{"empty", nil, logVkey},
		{"text without signature", []byte(receiptText(logName, e)), logVkey},
		{"bad verifier key", valid, "not a key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := notary.OpenReceipt(tt.signed, tt.vkey); err == nil {
				t.Errorf("OpenReceipt accepted it: index %d, digest %v", got.Index, got.Digest)
			}
		})
	}
}

// TestOpenReceiptNonCanonical checks that a receipt's text has exactly one encoding, as the
// checkpoint's has: the format is strict, and the same statement must not have two signed forms.
func TestOpenReceiptNonCanonical(t *testing.T) {
	e := testEntry(7)
	text := receiptText(logName, e)
	tests := []struct {
		name, from, to string
	}{
		{"index with leading zeros", "\n7\n", "\n007\n"},
		{"index with a plus sign", "\n7\n", "\n+7\n"},
		{"time with a leading zero", fmt.Sprintf("\n%d\n", e.Time.UnixMilli()), fmt.Sprintf("\n0%d\n", e.Time.UnixMilli())},
		{"upper-case digest", e.Digest.String(), strings.ToUpper(e.Digest.String())},
		{"upper-case leaf hash", e.LeafHash().String(), strings.ToUpper(e.LeafHash().String())},
		{"origin other than the key's name", "\n" + logName + "\n", "\nnotary.example/other\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(text, tt.from) {
				t.Fatalf("%q not in the receipt text", tt.from)
			}
			signed := signNote(t, strings.Replace(text, tt.from, tt.to, 1), logSkey)
			if got, err := notary.OpenReceipt(signed, logVkey); err == nil {
				t.Errorf("OpenReceipt accepted a non-canonical receipt (%q for %q): index %d, digest %v, origin %s",
					tt.to, tt.from, got.Index, got.Digest, got.Origin)
			}
		})
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	for _, size := range []int64{0, 1, 13, 1 << 40} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			root := merkle.Hash(testDigest(size))
			cp, err := notary.SignCheckpoint(size, root, newSigner(t, logSkey))
			if err != nil {
				t.Fatal(err)
			}
			if cp.Origin != logName || cp.Size != size || cp.Root != root {
				t.Errorf("SignCheckpoint = %+v, want origin %s, size %d, root %v", cp, logName, size, root)
			}
			want := checkpointText(logName, size, root) + "\n— " + logName + " "
			if !strings.HasPrefix(string(cp.Note), want) {
				t.Errorf("checkpoint note =\n%s\nwant it to start with\n%s", cp.Note, want)
			}
			got, err := notary.OpenCheckpoint(cp.Note, logVkey)
			if err != nil {
				t.Fatalf("OpenCheckpoint: %v", err)
			}
			if got.Origin != cp.Origin || got.Size != size || got.Root != root || !bytes.Equal(got.Note, cp.Note) {
				t.Errorf("OpenCheckpoint = %+v, want %+v", got, cp)
			}
		})
	}
	t.Run("cosigned", func(t *testing.T) {
		// A witness's cosignature is another signature line: it does not stop the log's from verifying.
		cp, err := notary.SignCheckpoint(5, merkle.Hash(testDigest(5)), newSigner(t, logSkey))
		if err != nil {
			t.Fatal(err)
		}
		cosigned := cosign(t, cp.Note, otherSkey)
		got, err := notary.OpenCheckpoint(cosigned, logVkey)
		if err != nil || got.Size != 5 || got.Root != cp.Root {
			t.Errorf("OpenCheckpoint(cosigned) = %+v, %v; want size 5, root %v", got, err, cp.Root)
		}
	})
}

func TestOpenCheckpointRefuses(t *testing.T) {
	root := merkle.Hash(testDigest(1))
	cp, err := notary.SignCheckpoint(13, root, newSigner(t, logSkey))
	if err != nil {
		t.Fatal(err)
	}
	rootB64 := base64.StdEncoding.EncodeToString(root[:])
	otherRoot := merkle.Hash(testDigest(2))
	r, err := notary.SignReceipt(logName, testEntry(6), newSigner(t, logSkey))
	if err != nil {
		t.Fatal(err)
	}
	text := checkpointText(logName, 13, root)
	signed := func(text string) []byte { return signNote(t, text, logSkey) }

	tests := []struct {
		name   string
		signed []byte
		vkey   string
	}{
		{"tampered size", flipInText(t, cp.Note, "\n13\n", "\n14\n"), logVkey},
		{"tampered root", flipInText(t, cp.Note, rootB64, base64.StdEncoding.EncodeToString(otherRoot[:])), logVkey},
		{"another log's key", cp.Note, otherVkey},
		{"another key with the log's name", cp.Note, forgerVkey},
		{"signed by another key with the log's name", signNote(t, text, forgerSkey), logVkey},
		{"extension line", signed(text + "extension\n"), logVkey},
		{"size 007", signed(strings.Replace(text, "\n13\n", "\n007\n", 1)), logVkey},
		{"size +13", signed(strings.Replace(text, "\n13\n", "\n+13\n", 1)), logVkey},
		{"size -1", signed(strings.Replace(text, "\n13\n", "\n-1\n", 1)), logVkey},
		{"size -0", signed(strings.Replace(text, "\n13\n", "\n-0\n", 1)), logVkey},
		{"size in hex", signed(strings.Replace(text, "\n13\n", "\n0xd\n", 1)), logVkey},
		{"size beyond int64", signed(strings.Replace(text, "\n13\n", "\n9223372036854775808\n", 1)), logVkey},
		{"empty size", signed(strings.Replace(text, "\n13\n", "\n\n", 1)), logVkey},
		{"root not base64", signed(strings.Replace(text, rootB64, "!!"+rootB64[2:], 1)), logVkey},
		{"root of 31 bytes", signed(checkpointTextRaw(logName, "13", make([]byte, 31))), logVkey},
		{"root of 33 bytes", signed(checkpointTextRaw(logName, "13", make([]byte, 33))), logVkey},
		{"root in hex", signed(checkpointTextRaw(logName, "13", nil) + root.String() + "\n"), logVkey},
		{"origin other than the key's name", signed(checkpointText("notary.example/other", 13, root)), logVkey},
		{"two lines", signed(logName + "\n13\n"), logVkey},
		{"receipt presented as a checkpoint", []byte(r.Note), logVkey},
		{"empty", nil, logVkey},
		{"bad verifier key", cp.Note, "not a key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := notary.OpenCheckpoint(tt.signed, tt.vkey); err == nil {
				t.Errorf("OpenCheckpoint accepted\n%s\nas size %d, root %v", tt.signed, got.Size, got.Root)
			}
		})
	}
}

// checkpointTextRaw returns a checkpoint text with the given size text and root bytes (no
// root line if root is nil).
func checkpointTextRaw(origin, size string, root []byte) string {
	s := origin + "\n" + size + "\n"
	if root != nil {
		s += base64.StdEncoding.EncodeToString(root) + "\n"
	}
	return s
}

// TestOpenCheckpointNonCanonicalRoot checks that the root line has one encoding only. Base64
// of 32 bytes ends in a character carrying two unused bits; the lenient decoder ignores
// them, so four texts would decode to the same root.
func TestOpenCheckpointNonCanonicalRoot(t *testing.T) {
	root := merkle.Hash(testDigest(1))
	canonical := base64.StdEncoding.EncodeToString(root[:])
	// The last data character before "=": set one of its two unused low bits.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	last := strings.IndexByte(alphabet, canonical[42])
	alt := canonical[:42] + string(alphabet[last|1]) + "="
	if alt == canonical {
		alt = canonical[:42] + string(alphabet[last|2]) + "="
	}
	if decoded, err := base64.StdEncoding.DecodeString(alt); err != nil || !bytes.Equal(decoded, root[:]) {
		t.Fatalf("test setup: %s does not decode to the root (%x, %v)", alt, decoded, err)
	}
	signed := signNote(t, logName+"\n13\n"+alt+"\n", logSkey)
	if got, err := notary.OpenCheckpoint(signed, logVkey); err == nil {
		t.Errorf("OpenCheckpoint accepted the non-canonical root %s (canonical %s) as %v", alt, canonical, got.Root)
	}
}
