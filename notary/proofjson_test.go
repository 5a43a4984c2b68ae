package notary_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// TestProofAppendJSON holds the hand-written encoder to encoding/json's bytes, on every
// golden proof and on proofs whose strings need escapes and whose paths are nil or empty.
func TestProofAppendJSON(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "proofs", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden proofs (%v)", err)
	}
	proofs := map[string]*notary.Proof{}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var p notary.Proof // not ParseProof: the files that fail it are encoded too
		if json.Unmarshal(data, &p) == nil {
			proofs[filepath.Base(name)] = &p
		}
	}
	if len(proofs) == 0 {
		t.Fatal("no golden proof decodes")
	}
	base := notary.Proof{
		Format: notary.ProofFormat,
		Entry:  notary.ProofEntry{Index: 7, ReceivedMS: 1764000000123},
		Log:    notary.ProofLog{Key: "log+01234567+AQID", Checkpoint: "log\n8\nAAAA\n\n— log AQID\n"},
	}
	with := func(change func(p *notary.Proof)) *notary.Proof {
		p := base
		change(&p)
		return &p
	}
	proofs["nil paths"] = with(func(p *notary.Proof) { p.Bitcoin = &notary.ProofBitcoin{Network: "regtest"} })
	proofs["empty paths"] = with(func(p *notary.Proof) {
		p.Log.Inclusion = []merkle.Hash{}
		p.Bitcoin = &notary.ProofBitcoin{Branch: []merkle.Hash{}, Tx: []byte{}, Header: []byte{1, 2}, TxIndex: -1, Height: -5}
	})
	proofs["HTML in strings"] = with(func(p *notary.Proof) {
		p.Service = "https://notary.example/?a=<b>&c='d'"
		p.Log.Key = `<script>"\`
	})
	proofs["control characters and line separators"] = with(func(p *notary.Proof) {
		p.Format = "a\tb\x00c\x1f\u2028\u2029\u00e9\U0001F600"
	})
	proofs["invalid UTF-8"] = with(func(p *notary.Proof) { p.Service = "a\xffb\xc3" })
	proofs["negative numbers"] = with(func(p *notary.Proof) { p.Entry.Index, p.Entry.ReceivedMS = -1, -9 })

	for name, p := range proofs {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.AppendJSON([]byte("prefix")); !bytes.Equal(got, append([]byte("prefix"), want...)) {
				t.Errorf("AppendJSON gives\n%s\njson.Marshal\nprefix%s", got, want)
			}
		})
	}
}

// FuzzAppendJSONString checks the string encoder against encoding/json on any string.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>", "\u2028", "\xff", "é\"\\\n", "— log"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := notary.AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("AppendJSONString(%q) = %s, json.Marshal gives %s", s, got, want)
		}
	})
}
