package ots_test

import (
	"crypto/sha256"
	"fmt"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/ots"
)

// A pending timestamp, completed by what the calendar answers for the pending commitment.
func ExampleTimestamp_Merge() {
	digest := sha256.Sum256([]byte("Hello World!\n"))
	f, _ := ots.NewFile(digest, nil, ots.Pending{URI: "https://notary.example"})

	// GET https://notary.example/timestamp/<hex digest> answers this, serialized.
	answer, _ := ots.NewTimestamp(digest[:], []merkle.Op{
		{Code: merkle.OpPrepend, Arg: []byte{0x00, 0x01}},
		{Code: merkle.OpSHA256},
	}, ots.Bitcoin{Height: 840000})

	for _, at := range f.Timestamp.AllAttestations() {
		if _, ok := at.Attestation.(ots.Pending); ok {
			at.Node.Merge(answer)
		}
	}
	fmt.Print(f)
	// Output:
	// File sha256 hash: 03ba204e50d126e4674c005e04d82e84c21366780af1f43bd54a37816b6ab340
	// Timestamp:
	// verify PendingAttestation('https://notary.example')
	// prepend 0001
	// sha256
	// verify BitcoinBlockHeaderAttestation(840000)
	// # Bitcoin block merkle root e12c33aaf7978626a9fe18a8478698e30669352b05411985337733bc3b60f478
}
