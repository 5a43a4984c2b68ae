package notary_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// evaluate returns the result of ops applied to msg.
func evaluate(tb testing.TB, msg []byte, ops []merkle.Op) []byte {
	tb.Helper()
	out, err := merkle.Evaluate(msg, ops)
	if err != nil {
		tb.Fatalf("merkle.Evaluate: %v", err)
	}
	return out
}

func TestProofOps(t *testing.T) {
	tests := []struct {
		name  string
		proof func(t *testing.T) *notary.Proof
	}{
		{"complete", func(t *testing.T) *notary.Proof { return newFixture(t, nil).complete(t) }},
		{"complete with a tag", func(t *testing.T) *notary.Proof { return newFixture(t, []byte(fixtureTag)).complete(t) }},
		{"pending", func(t *testing.T) *notary.Proof { return newFixture(t, nil).pending(t) }},
		{"complete, transaction alone in its block", func(t *testing.T) *notary.Proof {
			f := newFixture(t, nil)
			f.block = newBlock(t, f.tx.serialize(false), 1, 0, true)
			return f.complete(t)
		}},
		{"complete, transaction last of an odd block", func(t *testing.T) *notary.Proof {
			f := newFixture(t, nil)
			f.block = newBlock(t, f.tx.serialize(false), 7, 6, true)
			return f.complete(t)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.proof(t)
			v, err := notary.Verify(p, logKeys(t))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			ops, err := p.Ops()
			if err != nil {
				t.Fatalf("Ops: %v", err)
			}
			got := evaluate(t, p.Digest[:], ops)
			// The first three operations give the leaf hash, as docs/proof-format.md lays them out.
			e, _ := p.LogEntry()
			if leaf, want := evaluate(t, p.Digest[:], ops[:3]), e.LeafHash(); !bytes.Equal(leaf, want[:]) {
				t.Errorf("the first three ops give %x, want the leaf hash %v", leaf, e.LeafHash())
			}
			if !p.Complete() {
				if !bytes.Equal(got, v.LogRoot[:]) {
					t.Errorf("ops give %x, want the log root %v", got, v.LogRoot)
				}
				return
			}
			root := notary.Header(p.Bitcoin.Header).MerkleRoot()
			if !bytes.Equal(got, root[:]) {
				t.Errorf("ops give %x, want the header's Merkle root %v", got, root)
			}
			// Then: log root, four ops to the txid, three per branch level.
			atTxID := len(ops) - 3*len(p.Bitcoin.Branch)
			if txid := evaluate(t, p.Digest[:], ops[:atTxID]); !bytes.Equal(txid, v.TxID[:]) {
				t.Errorf("ops before the branch give %x, want the txid %v", txid, v.TxID)
			}
			if logRoot := evaluate(t, p.Digest[:], ops[:atTxID-4]); !bytes.Equal(logRoot, v.LogRoot[:]) {
				t.Errorf("ops before the transaction give %x, want the log root %v", logRoot, v.LogRoot)
			}
		})
	}
	t.Run("refused for a proof that does not verify", func(t *testing.T) {
		p := newFixture(t, nil).complete(t)
		p.Bitcoin.TxIndex++
		if ops, err := p.Ops(); stepOf(t, err) != notary.StepBlock {
			t.Errorf("Ops() = %d ops, %v; want a block step error", len(ops), err)
		}
	})
}

// TestProofOpsEveryShape checks pending proofs and their operations for every entry of logs
// of 1 to 17 entries: every shape of inclusion path up to five levels.
func TestProofOpsEveryShape(t *testing.T) {
	log := newMemLog(t, 17)
	signer := newSigner(t, logSkey)
	for size := int64(1); size <= 17; size++ {
		cp, err := notary.SignCheckpoint(size, log.Root(t, size), signer)
		if err != nil {
			t.Fatal(err)
		}
		for index := range size {
			t.Run(fmt.Sprintf("%d of %d", index, size), func(t *testing.T) {
				e := log.Entries[index]
				p := &notary.Proof{
					Format: notary.ProofFormat,
					Digest: e.Digest,
					Entry:  notary.ProofEntry{Index: index, ReceivedMS: e.Time.UnixMilli(), Nonce: e.Nonce[:]},
					Log:    notary.ProofLog{Key: logVkey, Checkpoint: string(cp.Note), Inclusion: log.Inclusion(t, index, size)},
				}
				v, err := notary.Verify(p, logKeys(t))
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if v.Index != index || v.LogSize != size || v.LogRoot != cp.Root {
					t.Errorf("Verified = index %d, size %d, root %v; want %d, %d, %v", v.Index, v.LogSize, v.LogRoot, index, size, cp.Root)
				}
				ops, err := p.Ops()
				if err != nil {
					t.Fatalf("Ops: %v", err)
				}
				if got := evaluate(t, e.Digest[:], ops); !bytes.Equal(got, cp.Root[:]) {
					t.Errorf("ops give %x, want the root %v", got, cp.Root)
				}
				if size > 1 {
					// Any other entry's digest must not reach the root through these ops.
					other := log.Entries[(index+1)%size].Digest
					if got := evaluate(t, other[:], ops); bytes.Equal(got, cp.Root[:]) {
						t.Error("another digest reaches the root through the ops")
					}
				}
			})
		}
	}
}

// TestVerifyTransaction checks the OP_RETURN commitment rules on transactions built around
// the root, each in a block of its own so that only the transaction step can fail.
func TestVerifyTransaction(t *testing.T) {
	f := newFixture(t, nil)
	root := f.cp.Root
	withScript := func(script []byte) []byte {
		tx := anchorTx(root, nil)
		tx.outputs[0].script = script
		return tx.serialize(false)
	}
	twoInputs := anchorTx(root, nil)
	twoInputs.inputs = append(twoInputs.inputs, btcIn{prevHash: merkle.DoubleSHA256([]byte("second")), sequence: 0xfffffffd})
	noOutputs := anchorTx(root, nil)
	noOutputs.outputs = nil
	huge := anchorTx(root, nil)
	huge.inputs[0].script = make([]byte, 100_001)
	valid := anchorTx(root, nil).serialize(false)

	tests := []struct {
		name string
		tx   []byte
		ok   bool
	}{
		{"root alone", valid, true},
		{"tag of 1 byte", anchorTx(root, []byte("n")).serialize(false), true},
		{"tag of 43 bytes: a direct push of 75", anchorTx(root, fill("tag", 43)).serialize(false), true},
		{"tag of 44 bytes: OP_PUSHDATA1 of 76", anchorTx(root, fill("tag", 44)).serialize(false), true},
		{"tag of 48 bytes: the 80 bytes of a standard OP_RETURN", anchorTx(root, fill("tag", 48)).serialize(false), true},
		{"OP_RETURN output after the change", func() []byte {
			tx := anchorTx(root, nil)
			tx.outputs[0], tx.outputs[1] = tx.outputs[1], tx.outputs[0]
			return tx.serialize(false)
		}(), true},
		{"two inputs", twoInputs.serialize(false), true},
		{"root followed by a byte", withScript(append(nullData(root[:]), 0x00)), false},
		{"root followed by a byte in the push", withScript(nullData(append(root[:], 0x00))), false},
		{"push shorter than the root", withScript(nullData(root[1:])), false},
		{"push length beyond the script", withScript(append([]byte{0x6a, 0x21}, root[:]...)), false},
		{"root without OP_RETURN", withScript(append([]byte{0x20}, root[:]...)), false},
		{"root in a P2WSH output", withScript(append([]byte{0x00, 0x20}, root[:]...)), false},
		{"root in an OP_RETURN output and a P2WSH output", anchorTx(root, nil, btcOut{script: append([]byte{0x00, 0x20}, root[:]...)}).serialize(false), true},
		{"root in two OP_RETURN outputs", anchorTx(root, nil, btcOut{script: nullData(root[:])}).serialize(false), false},
		{"tag of 49 bytes: 81 bytes of data", anchorTx(root, fill("tag", 49)).serialize(false), false},
		{"root pushed with OP_PUSHDATA1 (not minimal)", withScript(append([]byte{0x6a, 0x4c, 0x20}, root[:]...)), false},
		{"tag and root pushed with OP_PUSHDATA2", withScript(append([]byte{0x6a, 0x4d, 0x24, 0x00}, append(fill("tag", 4), root[:]...)...)), false},
		{"root in a non-minimal push and in a minimal one", anchorTx(root, nil, btcOut{script: append([]byte{0x6a, 0x4c, 0x20}, root[:]...)}).serialize(false), true},
		{"input count in 3 bytes", slices.Concat(valid[:4], []byte{0xfd, 0x01, 0x00}, valid[5:]), false},
		{"input count in 5 bytes", slices.Concat(valid[:4], []byte{0xfe, 0x01, 0, 0, 0}, valid[5:]), false},
		{"input count in 9 bytes", slices.Concat(valid[:4], []byte{0xff, 0x01, 0, 0, 0, 0, 0, 0, 0}, valid[5:]), false},
		{"empty input script length in 3 bytes", slices.Concat(valid[:41], []byte{0xfd, 0x00, 0x00}, valid[42:]), false},
		{"root of another tree", anchorTx(f.log.Root(t, fixtureLogSize-1), nil).serialize(false), false},
		{"witness serialization", f.tx.serialize(true), false},
		{"no outputs", noOutputs.serialize(false), false},
		{"no inputs", func() []byte {
			tx := anchorTx(root, nil)
			tx.inputs = nil
			return tx.serialize(false)
		}(), false},
		{"trailing byte", append(bytes.Clone(valid), 0x00), false},
		{"lock time cut short", valid[:len(valid)-1], false},
		{"cut in the OP_RETURN script", valid[:60], false},
		{"output count of 2^64-1", func() []byte {
			b := bytes.Clone(valid)
			at := 4 + 1 + 36 + 1 + 4 // version, input count, outpoint, empty script, sequence
			return append(append(b[:at:at], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), valid[at+1:]...)
		}(), false},
		{"more than 100 000 bytes", huge.serialize(false), false},
		{"empty", []byte{}, false},
		{"64 bytes: two txids, an inner node of the block tree", append(f.block.txids[2][:], f.block.txids[3][:]...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := f.pending(t)
			block := newBlock(t, tt.tx, fixtureNTx, fixtureTxIndex, true)
			p.Bitcoin = block.bitcoin(tt.tx, fixtureHeight)
			_, err := notary.Verify(p, logKeys(t))
			if !tt.ok {
				if got := stepOf(t, err); got != notary.StepTransaction {
					t.Fatalf("Verify = %v, want a %s step error", err, notary.StepTransaction)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			ops, err := p.Ops()
			if err != nil {
				t.Fatalf("Ops: %v", err)
			}
			want := block.header.MerkleRoot()
			if got := evaluate(t, p.Digest[:], ops); !bytes.Equal(got, want[:]) {
				t.Errorf("ops give %x, want the header's Merkle root %v", got, want)
			}
		})
	}
}

// TestVerify covers the cases the golden files do not.
func TestVerify(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, f *fixture, p *notary.Proof)
		step string
	}{
		{"valid", func(t *testing.T, f *fixture, p *notary.Proof) {}, ""},
		{"no service", func(t *testing.T, f *fixture, p *notary.Proof) { p.Service = "" }, ""},
		{"height 0", func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Height = 0 }, ""},
		{"format not set (Verify without ParseProof)", func(t *testing.T, f *fixture, p *notary.Proof) { p.Format = "" }, notary.StepFormat},
		{"network unknown (Verify without ParseProof)", func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Network = "bitcoin" }, notary.StepFormat},
		{"network in another case", func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Network = "REGTEST" }, notary.StepFormat},
		{"relabelled simnet (the same limit)", func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Network = "simnet" }, ""},
		{"relabelled signet", func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Network = "signet" }, notary.StepWork},
		{"relabelled testnet4", func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Network = "testnet4" }, notary.StepWork},
		{"nonce missing", func(t *testing.T, f *fixture, p *notary.Proof) { p.Entry.Nonce = nil }, notary.StepEntry},
		{"nonce of 17 bytes", func(t *testing.T, f *fixture, p *notary.Proof) { p.Entry.Nonce = append(p.Entry.Nonce, 0) }, notary.StepEntry},
		{"receive time 0 (1970)", func(t *testing.T, f *fixture, p *notary.Proof) { p.Entry.ReceivedMS = 0 }, notary.StepInclusion},
		{"negative receive time", func(t *testing.T, f *fixture, p *notary.Proof) { p.Entry.ReceivedMS = -1 << 63 }, notary.StepEntry},
		{"key hash in upper case", func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Log.Key = logVkey[:19] + strings.ToUpper(logVkey[19:27]) + logVkey[27:]
		}, notary.StepCheckpoint},
		{"key with a line break in its base64", func(t *testing.T, f *fixture, p *notary.Proof) { p.Log.Key += "\r\n" }, notary.StepCheckpoint},
		{"service an https URL with a port and a path", func(t *testing.T, f *fixture, p *notary.Proof) { p.Service = "https://notary.example:8443/a/b?c" }, ""},
		{"service an IPv6 URL", func(t *testing.T, f *fixture, p *notary.Proof) { p.Service = "http://[::1]:8080" }, ""},
		{"service not a URL (Verify without ParseProof)", func(t *testing.T, f *fixture, p *notary.Proof) { p.Service = "notary.example" }, notary.StepFormat},
		{"verifier key not a key", func(t *testing.T, f *fixture, p *notary.Proof) { p.Log.Key = "garbage" }, notary.StepCheckpoint},
		{"key of another log", func(t *testing.T, f *fixture, p *notary.Proof) { p.Log.Key = otherVkey }, notary.StepCheckpoint},
		{"checkpoint empty", func(t *testing.T, f *fixture, p *notary.Proof) { p.Log.Checkpoint = "" }, notary.StepCheckpoint},
		{"batch receipt as the checkpoint", func(t *testing.T, f *fixture, p *notary.Proof) {
			r, err := notary.SignBatchReceipt(logName, batchItems(3), newSigner(t, logSkey))
			if err != nil {
				t.Fatal(err)
			}
			p.Log.Checkpoint = r.Note
		}, notary.StepCheckpoint},
		{"index at the checkpoint's size", func(t *testing.T, f *fixture, p *notary.Proof) { p.Entry.Index = fixtureLogSize }, notary.StepInclusion},
		{"index far beyond the size", func(t *testing.T, f *fixture, p *notary.Proof) { p.Entry.Index = 1 << 62 }, notary.StepInclusion},
		{"inclusion path of another entry", func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Log.Inclusion = f.log.Inclusion(t, fixtureIndex+1, fixtureLogSize)
		}, notary.StepInclusion},
		{"inclusion path with an extra hash", func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Log.Inclusion = append(p.Log.Inclusion, merkle.Hash{})
		}, notary.StepInclusion},
		{"transaction missing", func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Tx = nil }, notary.StepTransaction},
		{"header missing", func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Header = nil }, notary.StepBlock},
		{"header of 81 bytes", func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Bitcoin.Header = append(bytes.Clone(p.Bitcoin.Header), 0)
		}, notary.StepBlock},
		{"negative transaction index", func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.TxIndex = -1 }, notary.StepBlock},
		{"transaction index beyond the branch", func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Bitcoin.TxIndex += 1 << len(p.Bitcoin.Branch)
		}, notary.StepBlock},
		{"branch cut short", func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Bitcoin.Branch = p.Bitcoin.Branch[:len(p.Bitcoin.Branch)-1]
		}, notary.StepBlock},
		{"branch with an extra hash", func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Bitcoin.Branch = append(p.Bitcoin.Branch, merkle.Hash{})
		}, notary.StepBlock},
		{"branch of another transaction", func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Bitcoin.Branch = merkle.BlockMerkleBranch(f.block.txids, fixtureTxIndex+1)
		}, notary.StepBlock},
		{"header with no valid target (sign bit)", func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Bitcoin.Header = setBits(p.Bitcoin.Header, 0x20800000)
		}, notary.StepWork},
		{"header with a zero target", func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Bitcoin.Header = setBits(p.Bitcoin.Header, 0x20000000)
		}, notary.StepWork},
		{"header with mainnet's genesis bits", func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Bitcoin.Header = setBits(p.Bitcoin.Header, 0x1d00ffff)
		}, notary.StepWork},
		{"negative height", func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Height = -1 }, notary.StepBlock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			p := f.complete(t)
			tt.edit(t, f, p)
			v, err := notary.Verify(p, logKeys(t))
			if got := stepOf(t, err); got != tt.step {
				t.Fatalf("Verify error %v: step %q, want %q", err, got, tt.step)
			}
			if err != nil {
				var ve *notary.VerifyError
				if !errors.As(err, &ve) || ve.Err == nil || !strings.Contains(err.Error(), tt.step) || v != nil {
					t.Errorf("Verify = %v, %v: want no result and an error naming the step and its cause", v, err)
				}
				return
			}
			if v.Digest != f.entry.Digest || v.Index != f.entry.Index || !v.Complete {
				t.Errorf("Verified = digest %v, index %d, complete %v; want %v, %d, true", v.Digest, v.Index, v.Complete, f.entry.Digest, f.entry.Index)
			}
		})
	}
}

// setBits returns a copy of header with its bits field set: its Merkle root still holds.
func setBits(header []byte, bits uint32) []byte {
	h := bytes.Clone(header)
	binary.LittleEndian.PutUint32(h[72:], bits)
	return h
}

func TestParseProof(t *testing.T) {
	valid := validComplete(t)
	pending := marshal(t, newFixture(t, nil).pending(t))
	tests := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"complete", valid, true},
		{"pending", pending, true},
		{"exactly MaxProofSize bytes", append(bytes.Clone(valid), bytes.Repeat([]byte("\n"), notary.MaxProofSize-len(valid))...), true},
		{"compact JSON", compact(t, valid), true},
		{"trailing white space", append(bytes.Clone(valid), " \t\r\n"...), true},
		{"empty", nil, false},
		{"white space only", []byte(" \n"), false},
		{"null", []byte("null"), false},
		{"array", []byte("[]"), false},
		{"empty object", []byte("{}"), false},
		{"two proofs", append(bytes.Clone(valid), valid...), false},
		{"inclusion path of 65 hashes", longPath(t, valid, "inclusion"), false},
		{"branch of 65 hashes", longPath(t, valid, "branch"), false},
		{"digest of 63 characters", replaceOnce(t, valid, `"digest": "9e3e`, `"digest": "9e3`), false},
		{"hash of 31 bytes", replaceOnce(t, valid, `"2960fe39`, `"`), false},
		{"nonce not hex", replaceOnce(t, valid, `"nonce": "1a`, `"nonce": "zz`), false},
		{"nonce of odd length", replaceOnce(t, valid, `"nonce": "1a`, `"nonce": "1`), false},
		{"index as a string", replaceOnce(t, valid, `"index": 6`, `"index": "6"`), false},
		{"index as a float", replaceOnce(t, valid, `"index": 6`, `"index": 6.5`), false},
		{"index beyond int64", replaceOnce(t, valid, `"index": 6`, `"index": 9223372036854775808`), false},
		{"bitcoin as an array", replaceOnce(t, valid, `"bitcoin": {`, `"bitcoin": [{`), false},
		{"unknown field in log", replaceOnce(t, valid, `"log": {`, `"log": {"extra": 1,`), false},
		{"unknown field in bitcoin", replaceOnce(t, valid, `"bitcoin": {`, `"bitcoin": {"confirmations": 6,`), false},
		{"receipt field, no longer in the format", withLegacyReceipt(t, pending), false},
		{"format of another version", replaceOnce(t, valid, notary.ProofFormat, "notary-proof/v2"), false},
		{"format missing", replaceOnce(t, valid, `"format": "notary-proof/v1",`, ``), false},
		{"one byte more than MaxProofSize", append(bytes.Clone(valid), bytes.Repeat([]byte("\n"), notary.MaxProofSize+1-len(valid))...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := notary.ParseProof(tt.data)
			if !tt.ok {
				if got := stepOf(t, err); got != notary.StepFormat {
					t.Fatalf("ParseProof error %v: step %q, want %q", err, got, notary.StepFormat)
				}
				if p != nil {
					t.Error("ParseProof returned a proof with its error")
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseProof: %v", err)
			}
			if _, err := notary.Verify(p, logKeys(t)); err != nil {
				t.Errorf("Verify: %v", err)
			}
			// Marshalling gives back the canonical form, which parses to the same proof.
			again, err := notary.ParseProof(marshal(t, p))
			if err != nil || !reflect.DeepEqual(again, p) {
				t.Errorf("MarshalProof then ParseProof = %+v, %v; want %+v", again, err, p)
			}
		})
	}
}

// TestParseProofStrict checks rules of docs/proof-format.md that a JSON decoder does not
// enforce by itself: nothing but white space after the object, keys exactly as specified,
// each once, and hex in lower case. A proof that one verifier accepts and another refuses
// is a proof that cannot be trusted to verify years later.
func TestParseProofStrict(t *testing.T) {
	valid := validComplete(t)
	digest := testEntry(fixtureIndex).Digest.String()
	tests := []struct {
		name string
		data []byte
	}{
		{"closing brace after the proof", append(bytes.Clone(valid), "}"...)},
		{"closing bracket after the proof", append(bytes.Clone(valid), "]\n"...)},
		{"key in another case", replaceOnce(t, valid, `"format":`, `"FORMAT":`)},
		{"nested key in another case", replaceOnce(t, valid, `"tx_index":`, `"Tx_Index":`)},
		{"key twice", replaceOnce(t, valid, `"format": "notary-proof/v1",`,
			`"format": "notary-proof/v1", "digest": "`+testDigest(100).String()+`",`)},
		{"digest in upper case", replaceOnce(t, valid, `"digest": "`+digest, `"digest": "`+strings.ToUpper(digest))},
		{"nonce in upper case", replaceOnce(t, valid, `"nonce": "1a48cc77f42ba0a7770bb1e93f88d3cd"`, `"nonce": "1A48CC77F42BA0A7770BB1E93F88D3CD"`)},
		{"inclusion hash in upper case", replaceOnce(t, valid, `"2960fe39e8c4d6527f7a92330636d114713d743f541fcb5cce75ed4325fd547e"`,
			`"2960FE39E8C4D6527F7A92330636D114713D743F541FCB5CCE75ED4325FD547E"`)},
		{"-0", replaceOnce(t, valid, `"tx_index": 2`, `"tx_index": -0`)},
		{"-0.0", replaceOnce(t, valid, `"tx_index": 2`, `"tx_index": -0.0`)},
		{"an exponent", replaceOnce(t, valid, `"tx_index": 2`, `"tx_index": 2e0`)},
		{"invalid UTF-8 in the service", replaceOnce(t, valid, `notary.example"`, "notary.example\xc3\"")},
		{"invalid UTF-8 between members", replaceOnce(t, valid, `"format":`, "\xff\"format\":")},
		{"a UTF-8 byte order mark", append([]byte("\xef\xbb\xbf"), valid...)},
		{"an escaped low surrogate alone", replaceOnce(t, valid, `notary.example/log\n13`, `notary.example/log\udc00\n13`)},
		{"an escaped high surrogate alone", replaceOnce(t, valid, `notary.example/log\n13`, `notary.example/log\ud800\n13`)},
		{"an escaped high surrogate then another", replaceOnce(t, valid, `notary.example/log\n13`, `notary.example/log\ud800\ud800\n13`)},
		{"an escaped high surrogate at the end of a string", replaceOnce(t, valid, `notary.example/log\n`, `notary.example/log\ud800`)},
		{"an empty service", replaceOnce(t, valid, `"https://notary.example"`, `""`)},
		{"a service in upper case", replaceOnce(t, valid, `"https://notary.example"`, `"HTTPS://NOTARY.EXAMPLE"`)},
		{"a service with a user", replaceOnce(t, valid, `"https://notary.example"`, `"https://me@notary.example"`)},
		{"a service with a space", replaceOnce(t, valid, `"https://notary.example"`, `"https://notary.example/a b"`)},
		{"a service with a non-ASCII host", replaceOnce(t, valid, `"https://notary.example"`, `"https://nötary.example"`)},
		{"a service with no host", replaceOnce(t, valid, `"https://notary.example"`, `"https:///x"`)},
		{"a service over ftp", replaceOnce(t, valid, `"https://notary.example"`, `"ftp://notary.example"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := notary.ParseProof(tt.data)
			if err == nil {
				_, verr := notary.Verify(p, logKeys(t))
				t.Errorf("ParseProof accepted it (Verify then gives %v)", verr)
				return
			}
			if got := stepOf(t, err); got != notary.StepFormat {
				t.Errorf("ParseProof error %v: step %q, want %q", err, got, notary.StepFormat)
			}
		})
	}
}

// withLegacyReceipt returns the proof with a "receipt" field holding a genuine signed
// receipt of its entry, as proofs carried before the format dropped per-entry receipts.
func withLegacyReceipt(tb testing.TB, data []byte) []byte {
	tb.Helper()
	e := testEntry(fixtureIndex)
	text := fmt.Sprintf("notary-receipt/v1\n%s\n%d\n%d\n%s\n%s\n", logName, e.Index, e.Time.UnixMilli(), e.Digest, e.LeafHash())
	receipt, err := json.Marshal(string(signNote(tb, text, logSkey)))
	if err != nil {
		tb.Fatal(err)
	}
	return replaceOnce(tb, data, `"log": {`, `"receipt": `+string(receipt)+",\n  \"log\": {")
}

// replaceOnce replaces the first from in data by to, failing if from is not there.
func replaceOnce(tb testing.TB, data []byte, from, to string) []byte {
	tb.Helper()
	if !bytes.Contains(data, []byte(from)) {
		tb.Fatalf("%q not found", from)
	}
	return bytes.Replace(data, []byte(from), []byte(to), 1)
}

// longPath returns the proof with 65 hashes in the named path field.
func longPath(tb testing.TB, data []byte, field string) []byte {
	tb.Helper()
	hashes := strings.TrimSuffix(strings.Repeat(`"`+strings.Repeat("00", 32)+`",`, 65), ",")
	i := bytes.Index(data, []byte(`"`+field+`": [`))
	if i < 0 {
		tb.Fatalf("no %s field", field)
	}
	end := i + bytes.IndexByte(data[i:], ']')
	return append(append(append([]byte{}, data[:i]...), `"`+field+`": [`+hashes...), data[end:]...)
}

// compact returns data with the white space between JSON tokens removed.
func compact(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestVerifyTrust checks what Verify makes of the keys the caller trusts: a pending proof
// verifies only under the trusted key of its own key's name and hash; a complete proof
// verifies whoever signed it, and says whether a trusted key did.
func TestVerifyTrust(t *testing.T) {
	// resign re-signs the checkpoint with skey, naming vkey as the proof's key.
	resign := func(skey, vkey string) func(t *testing.T, f *fixture, p *notary.Proof) {
		return func(t *testing.T, f *fixture, p *notary.Proof) {
			cp, err := notary.SignCheckpoint(f.cp.Size, f.cp.Root, newSigner(t, skey))
			if err != nil {
				t.Fatal(err)
			}
			p.Log.Key, p.Log.Checkpoint = vkey, string(cp.Note)
		}
	}
	cosigned := func(t *testing.T, f *fixture, p *notary.Proof) {
		p.Log.Checkpoint = string(cosign(t, []byte(p.Log.Checkpoint), otherSkey))
	}
	keys := func(vkeys ...string) func(t *testing.T, p *notary.Proof) note.Verifiers {
		return func(t *testing.T, p *notary.Proof) note.Verifiers {
			var vs []note.Verifier
			for _, k := range vkeys {
				vs = append(vs, mustVerifier(t, k))
			}
			return note.VerifierList(vs...)
		}
	}
	own := func(t *testing.T, p *notary.Proof) note.Verifiers { return p.OwnKey() }
	none := func(t *testing.T, p *notary.Proof) note.Verifiers { return nil }
	// impostor has the log's name and key hash, and the forger's key.
	impostor := func(t *testing.T, p *notary.Proof) note.Verifiers {
		log, forger := mustVerifier(t, logVkey), mustVerifier(t, forgerVkey)
		return note.VerifierList(renamed{forger, log.Name(), log.KeyHash()})
	}
	tests := []struct {
		name     string
		complete bool
		edit     func(t *testing.T, f *fixture, p *notary.Proof)
		trusted  func(t *testing.T, p *notary.Proof) note.Verifiers
		step     string // "" for valid
		keyOK    bool   // Verified.KeyTrusted, when valid
	}{
		{"pending, the log's key trusted", false, nil, keys(logVkey), "", true},
		{"pending, the log's key among others", false, nil, keys(otherVkey, logVkey, forgerVkey), "", true},
		{"pending, nothing trusted (nil)", false, nil, none, notary.StepKey, false},
		{"pending, nothing trusted (empty list)", false, nil, keys(), notary.StepKey, false},
		{"pending, another log's key trusted", false, nil, keys(otherVkey), notary.StepKey, false},
		{"pending, its own key", false, nil, own, "", true},
		{"pending by a made-up key with the log's name", false, resign(forgerSkey, forgerVkey), keys(logVkey), notary.StepKey, false},
		{"pending by a made-up key, trusting its own key", false, resign(forgerSkey, forgerVkey), own, "", true},
		{"pending, an impostor of the log's name and hash trusted", false, nil, impostor, notary.StepKey, false},
		{"pending, cosigned by a key trusted, not the log's", false, cosigned, keys(otherVkey), notary.StepKey, false},
		{"pending, cosigned, the log's key trusted", false, cosigned, keys(logVkey), "", true},
		{"pending, another proof's own key", false, resign(forgerSkey, forgerVkey), func(t *testing.T, p *notary.Proof) note.Verifiers {
			return newFixture(t, nil).pending(t).OwnKey()
		}, notary.StepKey, false},
		{"pending, a bad signature by the trusted key", false, func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Log.Checkpoint = strings.Replace(p.Log.Checkpoint, "\n\n— ", "\nx\n\n— ", 1)
		}, keys(logVkey), notary.StepCheckpoint, false},
		{"complete, the log's key trusted", true, nil, keys(logVkey), "", true},
		{"complete, nothing trusted", true, nil, none, "", false},
		{"complete, another log's key trusted", true, nil, keys(otherVkey), "", false},
		{"complete by a made-up key with the log's name", true, resign(forgerSkey, forgerVkey), keys(logVkey), "", false},
		{"complete by a made-up key, trusting its own key", true, resign(forgerSkey, forgerVkey), own, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			p := f.pending(t)
			if tt.complete {
				p = f.complete(t)
			}
			if tt.edit != nil {
				tt.edit(t, f, p)
			}
			v, err := notary.Verify(p, tt.trusted(t, p))
			if got := stepOf(t, err); got != tt.step {
				t.Fatalf("Verify error %v: step %q, want %q", err, got, tt.step)
			}
			var nte *notary.NotTrustedError
			if tt.step == notary.StepKey {
				if !errors.As(err, &nte) || nte.Key != p.Log.Key || !strings.Contains(err.Error(), "not by a key you trust") {
					t.Errorf("Verify error %v: want a *NotTrustedError naming %s", err, p.Log.Key)
				}
				return
			}
			if errors.As(err, &nte) {
				t.Errorf("Verify error %v is a *NotTrustedError at step %s", err, tt.step)
			}
			if err == nil && v.KeyTrusted != tt.keyOK {
				t.Errorf("Verified.KeyTrusted = %v, want %v", v.KeyTrusted, tt.keyOK)
			}
		})
	}
}

// renamed is a verifier under another name and key hash than its key's.
type renamed struct {
	note.Verifier
	name string
	hash uint32
}

func (r renamed) Name() string    { return r.name }
func (r renamed) KeyHash() uint32 { return r.hash }
