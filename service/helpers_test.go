package service_test

import (
	"testing"

	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/notary"
)

const (
	logSkey = logtest.LogSkey
	logVkey = logtest.LogVkey
)

var (
	newSigner  = logtest.Signer
	testDigest = logtest.Digest
	testEntry  = logtest.Entry
	newMemLog  = logtest.NewMemLog
)

// serviceURL is the service URL the test services write into their proofs.
const serviceURL = "https://notary.example"

// marshal encodes p with notary.MarshalProof.
func marshal(tb testing.TB, p *notary.Proof) []byte {
	tb.Helper()
	b, err := notary.MarshalProof(p)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
