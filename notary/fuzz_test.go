package notary_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/notary-dev/notary/notary"
)

var steps = map[string]bool{
	notary.StepFormat: true, notary.StepEntry: true, notary.StepCheckpoint: true,
	notary.StepInclusion: true, notary.StepTransaction: true, notary.StepBlock: true, notary.StepWork: true,
}

// verifyStep returns the step of a Verify error, failing for an error of another kind.
func verifyStep(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ve *notary.VerifyError
	if !errors.As(err, &ve) || !steps[ve.Step] {
		t.Fatalf("error %v is not a *VerifyError with a known step", err)
	}
	return ve.Step
}

// checkProof runs everything a verifier runs on a parsed proof and checks that the results
// agree with one another.
func checkProof(t *testing.T, p *notary.Proof) {
	v, err := notary.Verify(p)
	step := verifyStep(t, err)
	ops, opsErr := p.Ops()
	if (err == nil) != (opsErr == nil) {
		t.Fatalf("Verify error %v but Ops error %v", err, opsErr)
	}
	if err != nil {
		return
	}
	want := v.LogRoot[:]
	if v.Complete {
		root := v.Header.MerkleRoot()
		want = root[:]
	}
	got := evaluate(t, p.Digest[:], ops)
	if !bytes.Equal(got, want) {
		t.Fatalf("ops give %x, want %x", got, want)
	}
	// The canonical encoding of the proof verifies the same way.
	data := marshal(t, p)
	if len(data) > notary.MaxProofSize {
		return
	}
	again, err := notary.ParseProof(data)
	if err != nil {
		t.Fatalf("the re-encoded proof does not parse: %v", err)
	}
	v2, err := notary.Verify(again)
	if verifyStep(t, err) != step || !reflect.DeepEqual(v, v2) {
		t.Fatalf("the re-encoded proof verifies as %+v, %v; the original as %+v", v2, err, v)
	}
}

// FuzzParseProof feeds arbitrary files to ParseProof, Verify and Proof.Ops: they must never
// panic, fail only with a *VerifyError, and agree with one another.
func FuzzParseProof(f *testing.F) {
	for name, data := range goldenFiles(f) {
		if name == "oversized.json" {
			continue // it exercises only the size check and slows every mutation down
		}
		f.Add(data)
	}
	f.Add([]byte(`{"format":"notary-proof/v1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := notary.ParseProof(data)
		if err != nil {
			if p != nil || verifyStep(t, err) != notary.StepFormat {
				t.Fatalf("ParseProof = %v, %v: want no proof and a format error", p, err)
			}
			return
		}
		checkProof(t, p)
	})
}

// FuzzProofTransaction puts arbitrary bytes as the transaction of a complete proof: the
// transaction parser must never panic, and only the genuine transaction verifies.
func FuzzProofTransaction(f *testing.F) {
	fx := newFixture(f, nil)
	genuine := fx.tx.serialize(false)
	f.Add(genuine)
	f.Add(fx.tx.serialize(true))
	f.Add(newFixture(f, []byte(fixtureTag)).tx.serialize(false))
	f.Add(anchorTx(fx.cp.Root, fill("tag", 48)).serialize(false))
	f.Add(anchorTx(fx.cp.Root, nil, btcOut{script: nullData(fx.cp.Root[:])}).serialize(false))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, tx []byte) {
		p := fx.complete(t)
		p.Bitcoin.Tx = tx
		_, err := notary.Verify(p)
		switch step := verifyStep(t, err); {
		case bytes.Equal(tx, genuine):
			if err != nil {
				t.Fatalf("the genuine transaction fails: %v", err)
			}
		case step != notary.StepTransaction && step != notary.StepBlock:
			t.Fatalf("Verify = %v, want a transaction or block step error", err)
		}
		checkProof(t, p)
	})
}
