package notary_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/notary-dev/notary/notary"
)

var steps = map[string]bool{
	notary.StepFormat: true, notary.StepEntry: true, notary.StepCheckpoint: true, notary.StepKey: true,
	notary.StepInclusion: true, notary.StepTransaction: true, notary.StepBlock: true, notary.StepWork: true,
	notary.StepWitness: true,
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
// agree with one another: Verify trusting the proof's own key and Ops, which does the same;
// Verify trusting the log's key, which differs only for a pending proof of another key.
func checkProof(t *testing.T, p *notary.Proof) {
	v, err := notary.Verify(p, p.OwnKey())
	step := verifyStep(t, err)
	ops, opsErr := p.Ops()
	if (err == nil) != (opsErr == nil) {
		t.Fatalf("Verify error %v but Ops error %v", err, opsErr)
	}
	vt, terr := notary.Verify(p, logKeys(t))
	switch tstep := verifyStep(t, terr); {
	case err != nil && tstep != step:
		t.Fatalf("Verify trusting its own key fails at %s, trusting the log's at %s (%v)", step, tstep, terr)
	case err == nil && tstep == notary.StepKey:
		var nte *notary.NotTrustedError
		if p.Complete() || sameKey(p.Log.Key, logVkey) || !errors.As(terr, &nte) || nte.Key != p.Log.Key {
			t.Fatalf("Verify trusting the log's key: %v; the proof is complete %v, of key %s", terr, p.Complete(), p.Log.Key)
		}
	case err == nil && terr != nil:
		t.Fatalf("Verify trusting its own key succeeds, trusting the log's fails: %v", terr)
	case err == nil && (vt.KeyTrusted != sameKey(p.Log.Key, logVkey) || !v.KeyTrusted):
		t.Fatalf("KeyTrusted = %v trusting the log's key, %v trusting its own; the proof's key is %s", vt.KeyTrusted, v.KeyTrusted, p.Log.Key)
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
	v2, err := notary.Verify(again, again.OwnKey())
	if verifyStep(t, err) != step || !reflect.DeepEqual(v, v2) {
		t.Fatalf("the re-encoded proof verifies as %+v, %v; the original as %+v", v2, err, v)
	}
}

// sameKey reports whether two verifier keys, as note.NewVerifier reads them, are the same:
// the same name, key hash and key, whatever the case of the hash's hex digits.
func sameKey(a, b string) bool {
	parse := func(vkey string) (string, uint64, []byte, bool) {
		name, rest, ok1 := strings.Cut(vkey, "+")
		hash16, key64, ok2 := strings.Cut(rest, "+")
		hash, err1 := strconv.ParseUint(hash16, 16, 32)
		key, err2 := base64.StdEncoding.DecodeString(key64)
		return name, hash, key, ok1 && ok2 && len(hash16) == 8 && err1 == nil && err2 == nil
	}
	an, ah, ak, aok := parse(a)
	bn, bh, bk, bok := parse(b)
	return aok && bok && an == bn && ah == bh && bytes.Equal(ak, bk)
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
		_, err := notary.Verify(p, logKeys(t))
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
