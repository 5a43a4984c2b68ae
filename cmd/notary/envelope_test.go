package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notary-dev/notary/notary"
)

// TestParseEnvelope reads the API's lookup answers saved as they are: the proof inside is
// taken out and parsed as a proof file is; an answer without one, an error answer, a digest
// that is not the proof's and a member twice are refused, and a proof file is not an envelope.
func TestParseEnvelope(t *testing.T) {
	t.Parallel()
	proofs := filepath.Join("..", "..", "notary", "testdata", "proofs")
	for _, tt := range []struct {
		file     string
		envelope bool
		err      string // "" for a proof
	}{
		{"lookup-complete.json", true, ""},
		{"lookup-pending.json", true, ""},
		{"lookup-before-checkpoint.json", true, "holds no proof yet"},
		{"lookup-other-digest.json", true, "is for digest \"abab"},
		{"lookup-tx-byte-flipped.json", true, ""}, // parses; Verify refuses it
		{"lookup-proof-twice.json", false, ""},
		{"lookup-proof-capitalised.json", true, "holds no proof yet"},
		{"api-error.json", true, "the API's error answer, not a proof: digest abab"},
		{filepath.Join(proofs, "valid-complete.json"), false, ""},
		{filepath.Join(proofs, "unknown-field.json"), false, ""},
		{filepath.Join(proofs, "trailing-garbage.json"), false, ""},
	} {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			path := tt.file
			if !strings.Contains(path, string(filepath.Separator)) {
				path = filepath.Join("testdata", "envelopes", path)
			}
			p, isEnvelope, err := parseEnvelope(mustRead(t, path))
			if isEnvelope != tt.envelope {
				t.Fatalf("envelope %v, want %v (err %v)", isEnvelope, tt.envelope, err)
			}
			switch {
			case !isEnvelope && (p != nil || err != nil):
				t.Errorf("not an envelope, yet proof %v, error %v", p, err)
			case isEnvelope && tt.err == "" && (err != nil || p == nil):
				t.Errorf("no proof: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want one saying %q", err, tt.err)
			}
		})
	}
}

// TestEnvelopeIsTheProof checks that the proof taken from an envelope is the proof file it
// wraps, field for field.
func TestEnvelopeIsTheProof(t *testing.T) {
	t.Parallel()
	for env, file := range map[string]string{"lookup-complete.json": "valid-complete.json", "lookup-pending.json": "valid-pending.json"} {
		want, err := notary.ParseProof(mustRead(t, filepath.Join("..", "..", "notary", "testdata", "proofs", file)))
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := parseEnvelope(mustRead(t, filepath.Join("testdata", "envelopes", env)))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := notary.MarshalProof(want)
		b, _ := notary.MarshalProof(got)
		if string(a) != string(b) {
			t.Errorf("%s holds another proof than %s", env, file)
		}
	}
}

// FuzzParseEnvelope checks that parseEnvelope never fails on any input and that whatever
// proof it returns is one a proof file could hold, digest included.
func FuzzParseEnvelope(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "envelopes"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata", "envelopes", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"proof":null}`))
	f.Add([]byte(`{"digest":"","status":""}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, isEnvelope, err := parseEnvelope(data)
		if !isEnvelope && (p != nil || err != nil) {
			t.Fatalf("not an envelope, yet proof %v, error %v", p, err)
		}
		if p == nil {
			return
		}
		if err != nil {
			t.Fatalf("a proof and an error: %v", err)
		}
		b, err := notary.MarshalProof(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := notary.ParseProof(b); err != nil {
			t.Fatalf("the proof taken out does not parse again: %v", err)
		}
		members, err := objectMembers(data)
		if err != nil {
			t.Fatalf("an envelope whose members do not parse: %v", err)
		}
		if _, ok := members["format"]; ok {
			t.Fatal("a proof file taken for an envelope")
		}
	})
}
