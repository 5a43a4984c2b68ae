package notary_test

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/notary"
)

// Verify a proof file offline, trusting the log key its notary publishes. What remains to
// check against a node, an explorer or a trusted header is that the block is in the best
// chain at its height.
func ExampleVerify() {
	// The log's key, as the notary publishes it (GET /v1/keys), learnt apart from the proof.
	logKey, err := note.NewVerifier("notary.example/log+11b508bc+ASei22vQPCEQjzhl0nXHlLvpGIyrENIzpqQWgQ6nIf1D")
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := os.ReadFile("testdata/proofs/valid-complete.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := notary.ParseProof(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := notary.Verify(p, note.VerifierList(logKey))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("digest %s\n", v.Digest)
	fmt.Printf("entry %d of %s (log size %d, key trusted: %v)\n", v.Index, v.Origin, v.LogSize, v.KeyTrusted)
	fmt.Printf("transaction %s\n", notary.ReverseHex(v.TxID))
	fmt.Printf("block %s at %s height %d\n", notary.ReverseHex(v.BlockHash), v.Network, v.Height)
	fmt.Printf("existed by %s\n", v.BlockTime.Format("2006-01-02 15:04:05 MST"))
	// Output:
	// digest 9e3e6ce8b348263eef9347293d0cf189547cfef8e2f88b272892312d00a9bd87
	// entry 6 of notary.example/log (log size 13, key trusted: true)
	// transaction ad259cdb55e381a48a028771cadc1ae5033f9448a543fb49e23d5f96db788f48
	// block 44dbec8da17aca196b836fdd3abcfae10de7bf91f9f67f3943f57e0baa40c420 at regtest height 144
	// existed by 2026-11-25 23:50:00 UTC
}

// A tampered proof names the step that failed.
func ExampleVerifyError() {
	data, err := os.ReadFile("testdata/proofs/tx-index-off-by-one.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := notary.ParseProof(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = notary.Verify(p, p.OwnKey())
	if ve, ok := err.(*notary.VerifyError); ok {
		fmt.Println("failed step:", ve.Step)
	}
	// Output:
	// failed step: block
}

// A pending proof rests on its log's signature alone: signed by a key the verifier does not
// trust, it is not trusted, however well it hangs together.
func ExampleNotTrustedError() {
	data, err := os.ReadFile("testdata/proofs/pending-signed-by-unknown-key.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := notary.ParseProof(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	logKey, err := note.NewVerifier("notary.example/log+11b508bc+ASei22vQPCEQjzhl0nXHlLvpGIyrENIzpqQWgQ6nIf1D")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = notary.Verify(p, note.VerifierList(logKey))
	var nte *notary.NotTrustedError
	if errors.As(err, &nte) {
		fmt.Println("not trusted:", nte.Key)
	}
	// With the key the proof names, it verifies: that only shows someone holds that key.
	if _, err := notary.Verify(p, p.OwnKey()); err == nil {
		fmt.Println("valid under its own key")
	}
	// Output:
	// not trusted: notary.example/log+c27145f0+AXEolEBUsgRKy+zY9YiGCysvf8cWRmpfAqxMhY5h1JcK
	// valid under its own key
}
