package notary_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/notary"
)

// testWitness is a witness key made with torchwood's cosignature/v1 signer, an
// implementation independent of this package's verifier.
type testWitness struct {
	signer *torchwood.CosignatureSigner
	vkey   string
}

func newTestWitness(tb testing.TB, name string, seed byte) testWitness {
	tb.Helper()
	seedBytes := make([]byte, ed25519.SeedSize)
	seedBytes[0] = seed
	key := ed25519.NewKeyFromSeed(seedBytes)
	s, err := torchwood.NewCosignatureSigner(name, key)
	if err != nil {
		tb.Fatal(err)
	}
	return testWitness{s, s.Verifier().String()}
}

// witnessCosign returns the signed checkpoint cp with the cosignature lines of ws appended.
func witnessCosign(tb testing.TB, cp notary.Checkpoint, ws ...testWitness) []byte {
	tb.Helper()
	n, err := note.Open(cp.Note, note.VerifierList(mustVerifier(tb, logVkey)))
	if err != nil {
		tb.Fatal(err)
	}
	out := append([]byte(nil), cp.Note...)
	for _, w := range ws {
		signed, err := note.Sign(&note.Note{Text: n.Text}, w.signer)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, signed[strings.LastIndex(string(signed), "\n\n")+2:]...)
	}
	return out
}

func cosigVerifiers(tb testing.TB, vkeys ...string) []*notary.CosignatureVerifier {
	tb.Helper()
	var vs []*notary.CosignatureVerifier
	for _, k := range vkeys {
		v, err := notary.NewCosignatureVerifier(k)
		if err != nil {
			tb.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

func TestCheckCosignatures(t *testing.T) {
	f := newFixture(t, nil)
	w1, w2, w3 := newTestWitness(t, "w1.example", 1), newTestWitness(t, "w2.example", 2), newTestWitness(t, "w3.example", 3)
	both := witnessCosign(t, f.cp, w1, w2)
	// One base64 character of w2's signature changed, past its key hash.
	at := strings.Index(string(both), "— w2.example ") + len("— w2.example ") + 20
	tampered := []byte(string(both[:at]) + map[bool]string{true: "A", false: "B"}[both[at] != 'A'] + string(both[at+1:]))
	for _, tc := range []struct {
		name    string
		signed  []byte
		keys    []string
		quorum  int
		have    int    // valid cosignatures returned
		wantErr string // "" for none, "quorum" for a *QuorumError, else a substring
	}{
		{"two of two", both, []string{w1.vkey, w2.vkey}, 2, 2, ""},
		{"one required of two", both, []string{w1.vkey, w2.vkey}, 1, 2, ""},
		{"a third key not cosigning", both, []string{w1.vkey, w2.vkey, w3.vkey}, 3, 2, "quorum"},
		{"two of three keys", both, []string{w1.vkey, w2.vkey, w3.vkey}, 2, 2, ""},
		{"only another key", both, []string{w3.vkey}, 1, 0, "quorum"},
		{"not cosigned", f.cp.Note, []string{w1.vkey}, 1, 0, "quorum"},
		{"a key given twice counts once", witnessCosign(t, f.cp, w1), []string{w1.vkey, w1.vkey}, 1, 1, ""},
		{"no keys, no quorum", both, nil, 0, 0, ""},
		{"quorum above the keys", both, []string{w1.vkey}, 2, 0, "cannot be met"},
		{"a cosignature altered", tampered, []string{w1.vkey, w2.vkey}, 1, 0, "witness cosignature"},
		{"a cosignature of another checkpoint", append(append([]byte(nil), f.cp.Note...),
			witnessCosign(t, mustSign(t, f.cp.Size-1, f), w1)[len(mustSign(t, f.cp.Size-1, f).Note):]...), []string{w1.vkey}, 1, 0, "witness cosignature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := notary.CheckCosignatures(tc.signed, cosigVerifiers(t, tc.keys...), tc.quorum)
			var qe *notary.QuorumError
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("CheckCosignatures: %v", err)
			case tc.wantErr == "quorum" && !errors.As(err, &qe):
				t.Fatalf("CheckCosignatures error %v, want a *QuorumError", err)
			case tc.wantErr != "" && tc.wantErr != "quorum" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("CheckCosignatures error %v, want one saying %q", err, tc.wantErr)
			}
			if len(got) != tc.have {
				t.Errorf("CheckCosignatures returned %d cosignatures, want %d", len(got), tc.have)
			}
			if qe != nil && len(qe.Missing)+len(qe.Have) != len(dedupe(tc.keys)) {
				t.Errorf("QuorumError %v: have %d, missing %v, of %d keys", qe, len(qe.Have), qe.Missing, len(dedupe(tc.keys)))
			}
			for _, c := range got {
				if c.Time.IsZero() || c.Time.Year() < 2024 {
					t.Errorf("cosignature time %v: not the signer's clock", c.Time)
				}
			}
		})
	}
}

func mustSign(tb testing.TB, size int64, f *fixture) notary.Checkpoint {
	tb.Helper()
	cp, err := notary.SignCheckpoint(size, f.log.Root(tb, size), newSigner(tb, logSkey))
	if err != nil {
		tb.Fatal(err)
	}
	return cp
}

func dedupe(keys []string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// TestCosignatureVerifierKeyForms holds NewCosignatureVerifier to one text form per key and
// to cosignature/v1 keys only; torchwood's own verifier key is the valid form.
func TestCosignatureVerifierKeyForms(t *testing.T) {
	w := newTestWitness(t, "w1.example", 1)
	v, err := notary.NewCosignatureVerifier(w.vkey)
	if err != nil {
		t.Fatalf("torchwood's verifier key %s: %v", w.vkey, err)
	}
	if v.Name() != "w1.example" || v.KeyHash() != w.signer.KeyHash() || v.String() != w.vkey {
		t.Errorf("verifier = %s %08x %s, want torchwood's %s %08x", v.Name(), v.KeyHash(), v, w.signer.Name(), w.signer.KeyHash())
	}
	name, rest, _ := strings.Cut(w.vkey, "+")
	hash, key, _ := strings.Cut(rest, "+")
	for _, tc := range []struct{ name, vkey string }{
		{"the log's Ed25519 key (type 0x01)", logVkey},
		{"hash in upper case", name + "+" + strings.ToUpper(hash) + "+" + key},
		{"hash of another key", name + "+00000000+" + key},
		{"another name", "w2.example+" + hash + "+" + key},
		{"no name", "+" + hash + "+" + key},
		{"no key", name + "+" + hash},
		{"key not base64", name + "+" + hash + "+!!!"},
		{"key with a line break", name + "+" + hash + "+" + key[:10] + "\n" + key[10:]},
		{"empty", ""},
	} {
		if _, err := notary.NewCosignatureVerifier(tc.vkey); err == nil {
			t.Errorf("%s: NewCosignatureVerifier(%q) accepted it", tc.name, tc.vkey)
		}
	}
}

// FuzzNewCosignatureVerifier checks that a key the parser accepts prints as it was given:
// one text form per key.
func FuzzNewCosignatureVerifier(f *testing.F) {
	f.Add(newTestWitness(f, "w1.example", 1).vkey)
	f.Add(logVkey)
	f.Add("a+00000000+BA==")
	f.Fuzz(func(t *testing.T, vkey string) {
		v, err := notary.NewCosignatureVerifier(vkey)
		if err != nil {
			return
		}
		if v.String() != vkey {
			t.Fatalf("NewCosignatureVerifier(%q) prints as %q", vkey, v.String())
		}
	})
}

// FuzzCheckCosignatures feeds altered cosigned checkpoints to CheckCosignatures: it never
// panics, and what it returns verifies with the keys given.
func FuzzCheckCosignatures(f *testing.F) {
	fx := newFixture(f, nil)
	w1, w2 := newTestWitness(f, "w1.example", 1), newTestWitness(f, "w2.example", 2)
	f.Add(witnessCosign(f, fx.cp, w1, w2))
	f.Add(witnessCosign(f, fx.cp, w2))
	f.Add(fx.cp.Note)
	keys := cosigVerifiers(f, w1.vkey, w2.vkey)
	f.Fuzz(func(t *testing.T, signed []byte) {
		got, err := notary.CheckCosignatures(signed, keys, 1)
		var qe *notary.QuorumError
		if err != nil && !errors.As(err, &qe) {
			if len(got) != 0 {
				t.Fatalf("CheckCosignatures failed with %v but returned %v", err, got)
			}
			return
		}
		if len(got) > 2 || (err == nil && len(got) < 1) {
			t.Fatalf("CheckCosignatures = %v, %v", got, err)
		}
	})
}

// goldenWitness is a witness of the golden proofs: its key comes from a fixed seed and its
// cosignatures bear a fixed time, so that the files are the same at every generation.
type goldenWitness struct {
	name string
	seed byte
	vkey string
}

var (
	goldenW1 = newGoldenWitness("w1.example", 1)
	goldenW2 = newGoldenWitness("w2.example", 2)
	goldenW3 = newGoldenWitness("w3.example", 3)
)

// goldenCosignTime is the time every golden cosignature bears: 2026-01-01T00:00:00Z.
const goldenCosignTime = 1767225600

func newGoldenWitness(name string, seed byte) goldenWitness {
	s, err := torchwood.NewCosignatureSigner(name, seedKey(seed))
	if err != nil {
		panic(err)
	}
	return goldenWitness{name, seed, s.Verifier().String()}
}

func seedKey(seed byte) ed25519.PrivateKey {
	b := make([]byte, ed25519.SeedSize)
	b[0] = seed
	return ed25519.NewKeyFromSeed(b)
}

// goldenCosign returns signed, a signed checkpoint, with the cosignature/v1 lines of ws at
// goldenCosignTime appended; each line is checked with torchwood's verifier first.
func goldenCosign(tb testing.TB, signed []byte, ws ...goldenWitness) []byte {
	tb.Helper()
	text := signed[:strings.Index(string(signed), "\n\n")+1]
	out := append([]byte(nil), signed...)
	for _, w := range ws {
		s, err := torchwood.NewCosignatureSigner(w.name, seedKey(w.seed))
		if err != nil {
			tb.Fatal(err)
		}
		msg := fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", goldenCosignTime, text)
		sig := binary.BigEndian.AppendUint32(nil, s.KeyHash())
		sig = binary.BigEndian.AppendUint64(sig, goldenCosignTime)
		sig = append(sig, ed25519.Sign(seedKey(w.seed), msg)...)
		if !s.Verifier().Verify(text, sig[4:]) {
			tb.Fatalf("torchwood does not verify the golden cosignature of %s", w.name)
		}
		out = append(out, "— "+w.name+" "+base64.StdEncoding.EncodeToString(sig)+"\n"...)
	}
	return out
}
