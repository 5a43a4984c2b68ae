package notary_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

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
			keyID, sig, err := got.Signature()
			if err != nil {
				t.Fatalf("Signature: %v", err)
			}
			if keyID != logKeyID {
				t.Errorf("Signature key hash = %08x, want %08x", keyID, logKeyID)
			}
			if !ed25519.Verify(publicKey(t, logVkey), []byte(checkpointText(logName, size, root)), sig) {
				t.Errorf("Signature = %x, not an Ed25519 signature of the checkpoint text by the log's key", sig)
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
		_, want, err := cp.Signature()
		if err != nil {
			t.Fatal(err)
		}
		if keyID, sig, err := got.Signature(); err != nil || keyID != logKeyID || !bytes.Equal(sig, want) {
			t.Errorf("Signature of the cosigned checkpoint = %08x %x, %v; want the log's, %08x %x", keyID, sig, err, logKeyID, want)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		unsigned := notary.Checkpoint{Origin: logName, Size: 5, Note: []byte(checkpointText(logName, 5, merkle.Hash{}))}
		if keyID, sig, err := unsigned.Signature(); err == nil {
			t.Errorf("Signature of a note without a signature line = %08x %x, want an error", keyID, sig)
		}
	})
}

// logKeyID is the signed-note key hash of the log's key, as its verifier key states it.
const logKeyID = 0x11b508bc

// publicKey returns the Ed25519 public key of a signed-note verifier key.
func publicKey(tb testing.TB, vkey string) ed25519.PublicKey {
	tb.Helper()
	parts := strings.Split(vkey, "+")
	if len(parts) != 3 {
		tb.Fatalf("verifier key %q is not name+hash+key", vkey)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 1 {
		tb.Fatalf("verifier key %q does not hold an Ed25519 key (%v)", vkey, err)
	}
	return ed25519.PublicKey(raw[1:])
}

func TestOpenCheckpointRefuses(t *testing.T) {
	root := merkle.Hash(testDigest(1))
	cp, err := notary.SignCheckpoint(13, root, newSigner(t, logSkey))
	if err != nil {
		t.Fatal(err)
	}
	rootB64 := base64.StdEncoding.EncodeToString(root[:])
	otherRoot := merkle.Hash(testDigest(2))
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
