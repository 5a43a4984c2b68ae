package witness

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// FuzzParse checks that a witness spec Parse accepts names a well-formed witness.
func FuzzParse(f *testing.F) {
	f.Add("w1 https://w.example/prefix w1.example+4140d3ca+BM7MFQfcHd1ylZUcKQiI8JWtuQRNG3PWlubfBl1oO9T8")
	f.Add("w1 http://127.0.0.1:1 x+00000000+BA==")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		w, err := Parse(s)
		if err != nil {
			return
		}
		if !nameRE.MatchString(w.Name) || w.Key == nil || strings.HasSuffix(w.URL, "/") ||
			!(strings.HasPrefix(w.URL, "http://") || strings.HasPrefix(w.URL, "https://")) {
			t.Fatalf("Parse(%q) = %+v", s, w)
		}
	})
}

// FuzzCosignatureLine feeds witness answers to cosignatureLine: whatever it returns is one
// line that verifies with the witness's key.
func FuzzCosignatureLine(f *testing.F) {
	s, err := torchwood.NewCosignatureSigner("w1.example", ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	if err != nil {
		f.Fatal(err)
	}
	key, err := notary.NewCosignatureVerifier(s.Verifier().String())
	if err != nil {
		f.Fatal(err)
	}
	skey, _, err := note.GenerateKey(nil, "log.example")
	if err != nil {
		f.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	cp, err := notary.SignCheckpoint(3, merkle.Hash{1}, signer)
	if err != nil {
		f.Fatal(err)
	}
	text := cp.Note[:strings.Index(string(cp.Note), "\n\n")+1]
	good, err := note.Sign(&note.Note{Text: string(text)}, s)
	if err != nil {
		f.Fatal(err)
	}
	line := good[strings.LastIndex(string(good), "\n\n")+2:]
	f.Add(line)
	f.Add(append([]byte("— other.example AAAA\n"), line...))
	f.Add([]byte("— w1.example QUJD\n"))
	w := Witness{Name: "w1", URL: "http://w", Key: key}
	f.Fuzz(func(t *testing.T, answer []byte) {
		got, err := cosignatureLine(w, cp, answer)
		if err != nil {
			return
		}
		if strings.Count(string(got), "\n") != 1 {
			t.Fatalf("cosignatureLine returned %q", got)
		}
		if _, err := notary.CheckCosignatures(append(append([]byte(nil), cp.Note...), got...), []*notary.CosignatureVerifier{key}, 1); err != nil {
			t.Fatalf("cosignatureLine returned %q, which does not verify: %v", got, err)
		}
	})
}
