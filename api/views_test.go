package api

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// TestTimestampViewAppendJSON holds the hand-written encoder to encoding/json's bytes.
func TestTimestampViewAppendJSON(t *testing.T) {
	received := time.UnixMilli(1764115200120).UTC()
	entry := TimestampView{
		Digest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Status: service.StatusPending,
		Index: 41, Received: received, ReceivedMS: received.UnixMilli(),
		LeafHash: "02ad9c0e2f3a4d5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
	}
	proof := &notary.Proof{
		Format: notary.ProofFormat,
		Entry:  notary.ProofEntry{Index: 41, ReceivedMS: received.UnixMilli(), Nonce: make([]byte, 16)},
		Log: notary.ProofLog{
			Key: "notary.example/log+5c4fa2d1+AQID", Checkpoint: "notary.example/log\n42\nAAAA\n\n— notary.example/log AQID\n",
			Inclusion: []merkle.Hash{{1}, {2}},
		},
		Service: "https://notary.example/?a=1&b=<2>",
	}
	with := func(change func(v *TimestampView)) TimestampView {
		v := entry
		change(&v)
		return v
	}
	tests := map[string]TimestampView{
		"entry only":         entry,
		"zero time":          {},
		"whole second":       with(func(v *TimestampView) { v.Received = time.Unix(1764115200, 0).UTC() }),
		"escapes in strings": with(func(v *TimestampView) { v.Digest, v.LeafHash = "<&>\u2028\"", "\x00\xff" }),
		"signed receipt":     with(func(v *TimestampView) { v.LogSize, v.KeyID, v.Signature, v.Proof = 42, "5c4fa2d1", "c2ln+/==", proof }),
		"anchor in mempool": with(func(v *TimestampView) {
			v.Status, v.Anchor = service.StatusAnchored, &AnchorView{Status: "mempool", TxID: "ab", LogSize: 42, Fee: 300}
		}),
		"anchor in a block": with(func(v *TimestampView) {
			v.Anchor = &AnchorView{Status: "final", Height: 812, Confirmations: 6, Replacements: 2}
		}),
		"negative (not sent)": with(func(v *TimestampView) { v.Index, v.ReceivedMS, v.LogSize = -1, -2, -3 }),
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.appendJSON(nil); !bytes.Equal(got, want) {
				t.Errorf("appendJSON gives\n%s\njson.Marshal\n%s", got, want)
			}
		})
	}
}
