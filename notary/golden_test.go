package notary_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/proofs")

// goldenDir holds the golden proofs and their manifest. Other implementations (the browser's
// verifier) read the manifest to know what each file must give.
const goldenDir = "testdata/proofs"

// goldenEntry is one line of testdata/proofs/manifest.json.
type goldenEntry struct {
	File string `json:"file"`
	// Models says what the file is: the attack or the mistake it models.
	Models string `json:"models"`
	// Trusted are the log keys the verifier trusts (notary.Verify's trusted).
	Trusted []string `json:"trusted"`
	// Valid is true for a proof that verifies.
	Valid bool `json:"valid"`
	// Stage is "parse" if parsing the file must fail, "verify" if verifying it must.
	Stage string `json:"stage,omitempty"`
	// Step is the verification step that must fail (notary.VerifyError.Step).
	Step string `json:"step,omitempty"`
	// Witnesses are the cosignature/v1 keys of the witnesses the verifier requires, and
	// WitnessQuorum how many of them must have cosigned a pending proof's checkpoint
	// (notary.VerifyWitnesses, after notary.Verify).
	Witnesses     []string `json:"witnesses,omitempty"`
	WitnessQuorum int      `json:"witness_quorum,omitempty"`
}

// goldenCase is a golden file and how gen makes it.
type goldenCase struct {
	goldenEntry
	gen func(t *testing.T) []byte
}

// completeWith returns the complete proof of a fresh fixture, after edit.
func completeWith(edit func(t *testing.T, f *fixture, p *notary.Proof)) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		f := newFixture(t, nil)
		p := f.complete(t)
		edit(t, f, p)
		return marshal(t, p)
	}
}

// validComplete returns the bytes of the valid complete golden proof.
func validComplete(t *testing.T) []byte {
	return marshal(t, newFixture(t, nil).complete(t))
}

func goldenCases() []goldenCase {
	// Every file is checked trusting the log's key, as a verifier who knows the log does.
	trusted := []string{logVkey}
	verifyFails := func(file, step, models string, gen func(t *testing.T) []byte) goldenCase {
		return goldenCase{goldenEntry{File: file, Models: models, Trusted: trusted, Stage: "verify", Step: step}, gen}
	}
	parseFails := func(file, models string, gen func(t *testing.T) []byte) goldenCase {
		return goldenCase{goldenEntry{File: file, Models: models, Trusted: trusted, Stage: "parse", Step: notary.StepFormat}, gen}
	}
	valid := func(file, models string, gen func(t *testing.T) []byte) goldenCase {
		return goldenCase{goldenEntry{File: file, Models: models, Trusted: trusted, Valid: true}, gen}
	}
	// signedBy re-signs the proof's checkpoint with skey and names vkey as its key.
	signedBy := func(t *testing.T, f *fixture, p *notary.Proof, skey, vkey string) {
		cp, err := notary.SignCheckpoint(f.cp.Size, f.cp.Root, newSigner(t, skey))
		if err != nil {
			t.Fatal(err)
		}
		p.Log.Key, p.Log.Checkpoint = vkey, string(cp.Note)
	}
	// newAnchor replaces the proof's Bitcoin section by tx, in a block built around it, so
	// that only the transaction step can fail.
	newAnchor := func(t *testing.T, p *notary.Proof, tx []byte) {
		b := newBlock(t, tx, fixtureNTx, fixtureTxIndex, true)
		p.Bitcoin = b.bitcoin(tx, fixtureHeight)
	}

	// witnessCase is a pending proof cosigned by ws, checked requiring the witnesses keys.
	witnessCase := func(file, step, models string, keys []string, quorum int, ws ...goldenWitness) goldenCase {
		e := goldenEntry{File: file, Models: models, Trusted: trusted, Witnesses: keys, WitnessQuorum: quorum, Valid: step == ""}
		if step != "" {
			e.Stage, e.Step = "verify", step
		}
		return goldenCase{e, func(t *testing.T) []byte {
			p := newFixture(t, nil).pending(t)
			p.Log.Checkpoint = string(goldenCosign(t, []byte(p.Log.Checkpoint), ws...))
			return marshal(t, p)
		}}
	}

	return []goldenCase{
		valid("valid-complete.json", "a complete proof: entry, inclusion, checkpoint, OP_RETURN transaction, block branch, header", validComplete),
		valid("valid-complete-tagged.json", "a complete proof whose OP_RETURN data is a short tag followed by the root",
			func(t *testing.T) []byte { return marshal(t, newFixture(t, []byte(fixtureTag)).complete(t)) }),
		valid("valid-pending.json", "a pending proof: entry, inclusion, checkpoint, no Bitcoin section",
			func(t *testing.T) []byte { return marshal(t, newFixture(t, nil).pending(t)) }),
		valid("valid-complete-simnet.json", "a complete proof on simnet, whose proof-of-work limit is regtest's",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Network = "simnet" })),

		verifyFails("wrong-digest.json", notary.StepInclusion, "the proof of one document presented for another",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Digest = testDigest(100) })),
		verifyFails("index-plus-one.json", notary.StepInclusion, "the entry's index moved by one",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Entry.Index++ })),
		verifyFails("index-negative.json", notary.StepEntry, "a negative entry index",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Entry.Index = -1 })),
		verifyFails("nonce-short.json", notary.StepEntry, "a nonce of 15 bytes instead of 16",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Entry.Nonce = p.Entry.Nonce[:15] })),
		verifyFails("received-time-changed.json", notary.StepInclusion, "the receive time made earlier by a millisecond (backdating)",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Entry.ReceivedMS-- })),
		verifyFails("inclusion-hash-bit-flipped.json", notary.StepInclusion, "one bit flipped in a hash of the inclusion path",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Log.Inclusion[1][7] ^= 0x10 })),
		verifyFails("inclusion-hash-missing.json", notary.StepInclusion, "the last hash of the inclusion path dropped",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
				p.Log.Inclusion = p.Log.Inclusion[:len(p.Log.Inclusion)-1]
			})),
		verifyFails("checkpoint-signed-by-another-key.json", notary.StepCheckpoint, "the checkpoint signed by another key bearing the log's name",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
				cp, err := notary.SignCheckpoint(f.cp.Size, f.cp.Root, newSigner(t, forgerSkey))
				if err != nil {
					t.Fatal(err)
				}
				p.Log.Checkpoint = string(cp.Note)
			})),
		verifyFails("checkpoint-root-changed.json", notary.StepCheckpoint, "the checkpoint's root line edited after signing",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
				other := f.log.Root(t, fixtureLogSize-1)
				p.Log.Checkpoint = strings.Replace(p.Log.Checkpoint,
					base64.StdEncoding.EncodeToString(f.cp.Root[:]), base64.StdEncoding.EncodeToString(other[:]), 1)
			})),
		verifyFails("checkpoint-before-entry.json", notary.StepInclusion, "a genuine checkpoint of a log too small to hold the entry",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
				cp, err := notary.SignCheckpoint(fixtureIndex, f.log.Root(t, fixtureIndex), newSigner(t, logSkey))
				if err != nil {
					t.Fatal(err)
				}
				p.Log.Checkpoint = string(cp.Note)
			})),
		verifyFails("pending-signed-by-unknown-key.json", notary.StepKey, "a pending proof signed by a made-up key bearing the log's name, named in the proof: self-consistent, not trusted",
			func(t *testing.T) []byte {
				f := newFixture(t, nil)
				p := f.pending(t)
				signedBy(t, f, p, forgerSkey, forgerVkey)
				return marshal(t, p)
			}),
		verifyFails("pending-of-another-log.json", notary.StepKey, "a pending proof of another log, whose key the verifier does not trust",
			func(t *testing.T) []byte {
				f := newFixture(t, nil)
				p := f.pending(t)
				signedBy(t, f, p, otherSkey, otherVkey)
				return marshal(t, p)
			}),
		valid("complete-signed-by-unknown-key.json", "a complete proof signed by a made-up key bearing the log's name: its time rests on Bitcoin, not on the key (Verified.KeyTrusted is false)",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { signedBy(t, f, p, forgerSkey, forgerVkey) })),
		{goldenEntry{File: "tx-without-root.json", Models: "a transaction committing another root", Trusted: trusted, Stage: "verify", Step: notary.StepTransaction},
			func(t *testing.T) []byte {
				f := newFixture(t, nil)
				p := f.complete(t)
				newAnchor(t, p, anchorTx(f.log.Root(t, fixtureLogSize-1), nil).serialize(false))
				return marshal(t, p)
			}},
		{goldenEntry{File: "tx-root-in-two-outputs.json", Models: "a transaction committing the root in two OP_RETURN outputs", Trusted: trusted, Stage: "verify", Step: notary.StepTransaction},
			func(t *testing.T) []byte {
				f := newFixture(t, nil)
				p := f.complete(t)
				newAnchor(t, p, anchorTx(f.cp.Root, nil, btcOut{script: nullData(f.cp.Root[:])}).serialize(false))
				return marshal(t, p)
			}},
		verifyFails("tx-witness-serialization.json", notary.StepTransaction, "the transaction in witness serialization instead of the non-witness one its txid hashes",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Tx = f.tx.serialize(true) })),
		verifyFails("tx-byte-flipped.json", notary.StepBlock, "one byte of the transaction (its input's outpoint) changed",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Tx[4+1+3] ^= 0xff })),
		verifyFails("branch-hash-flipped.json", notary.StepBlock, "one bit flipped in a hash of the block Merkle branch",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
				p.Bitcoin.Branch = slices.Clone(p.Bitcoin.Branch)
				p.Bitcoin.Branch[1][0] ^= 0x01
			})),
		verifyFails("tx-index-off-by-one.json", notary.StepBlock, "the transaction's position in the block moved by one",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.TxIndex++ })),
		verifyFails("header-merkle-root-changed.json", notary.StepBlock, "the header's Merkle root field changed",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
				p.Bitcoin.Header = bytes.Clone(p.Bitcoin.Header)
				p.Bitcoin.Header[40] ^= 0x01
			})),
		verifyFails("header-truncated.json", notary.StepBlock, "a header of 79 bytes",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Header = p.Bitcoin.Header[:79] })),
		verifyFails("header-insufficient-work.json", notary.StepWork, "a header whose hash does not meet the target its bits state",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
				p.Bitcoin.Header = bytes.Clone(p.Bitcoin.Header)
				h := newHeader(t, notary.Header(p.Bitcoin.Header).MerkleRoot(), false)
				p.Bitcoin.Header = h[:]
			})),
		verifyFails("header-bits-above-mainnet-limit.json", notary.StepWork, "a regtest proof relabelled mainnet: its bits state regtest's target, easier than mainnet's proof-of-work limit",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Network = "mainnet" })),
		verifyFails("header-bits-above-regtest-limit.json", notary.StepWork, "a header whose bits (2100ffff) state a target above regtest's proof-of-work limit, which its hash meets",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
				h := newHeaderBits(t, notary.Header(p.Bitcoin.Header).MerkleRoot(), 0x2100ffff, true)
				p.Bitcoin.Header = h[:]
			})),
		verifyFails("header-bits-overflow.json", notary.StepWork, "a header whose bits (ff7fffff) state a target of more than 256 bits",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
				p.Bitcoin.Header = setBits(p.Bitcoin.Header, 0xff7fffff)
			})),
		verifyFails("header-bits-negative.json", notary.StepWork, "a header whose bits (20ffffff) have the sign bit set: a negative target",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
				p.Bitcoin.Header = setBits(p.Bitcoin.Header, 0x20ffffff)
			})),

		// The rules of docs/proof-format.md's "Encoding rules", one file each.
		verifyFails("log-key-hash-upper-case.json", notary.StepCheckpoint, "the log's own key with its key hash in upper case: the same key, not in the one form note writes",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
				p.Log.Key = strings.Replace(p.Log.Key, "+11b508bc+", "+11B508BC+", 1)
			})),
		verifyFails("log-key-base64-line-break.json", notary.StepCheckpoint, "the log's own key with a line break in its base64, which base64 decoders skip",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
				p.Log.Key = p.Log.Key[:len(p.Log.Key)-10] + "\n" + p.Log.Key[len(p.Log.Key)-10:]
			})),
		verifyFails("checkpoint-signature-padding-bits.json", notary.StepCheckpoint, "the checkpoint's signature in base64 with a padding bit set: the same signature, another text",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
				sig := p.Log.Checkpoint[strings.LastIndex(p.Log.Checkpoint, " ")+1 : len(p.Log.Checkpoint)-1]
				p.Log.Checkpoint = strings.Replace(p.Log.Checkpoint, sig, setPaddingBit(t, sig), 1)
			})),
		verifyFails("checkpoint-root-padding-bits.json", notary.StepCheckpoint, "a checkpoint signed by the log's key whose root is base64 with a padding bit set",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
				root := base64.StdEncoding.EncodeToString(f.cp.Root[:])
				text := fmt.Sprintf("%s\n%d\n%s\n", logName, f.cp.Size, setPaddingBit(t, root))
				p.Log.Checkpoint = string(signNote(t, text, logSkey))
			})),
		verifyFails("received-ms-negative.json", notary.StepEntry, "a receive time before 1970 (received_ms is a count of milliseconds from 0 to 2^63-1)",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Entry.ReceivedMS = -1 })),
		verifyFails("tx-index-negative.json", notary.StepBlock, "a negative transaction index",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.TxIndex = -1 })),
		verifyFails("height-negative.json", notary.StepBlock, "a negative block height",
			completeWith(func(t *testing.T, f *fixture, p *notary.Proof) { p.Bitcoin.Height = -1 })),
		verifyFails("tx-root-non-minimal-push.json", notary.StepTransaction, "the root pushed with OP_PUSHDATA1 where a direct push does: not a minimal push",
			func(t *testing.T) []byte {
				f := newFixture(t, nil)
				p := f.complete(t)
				tx := anchorTx(f.cp.Root, nil)
				tx.outputs[0].script = append([]byte{0x6a, 0x4c, 0x20}, f.cp.Root[:]...)
				newAnchor(t, p, tx.serialize(false))
				return marshal(t, p)
			}),
		verifyFails("tx-tag-49-bytes.json", notary.StepTransaction, "a tag of 49 bytes before the root: 81 bytes of OP_RETURN data, more than 80",
			func(t *testing.T) []byte {
				f := newFixture(t, nil)
				p := f.complete(t)
				newAnchor(t, p, anchorTx(f.cp.Root, fill("tag", 49)).serialize(false))
				return marshal(t, p)
			}),
		verifyFails("tx-compact-size-not-minimal.json", notary.StepTransaction, "the transaction's input count written in three bytes (fd 01 00) instead of one",
			func(t *testing.T) []byte {
				f := newFixture(t, nil)
				p := f.complete(t)
				tx := f.tx.serialize(false)
				newAnchor(t, p, slices.Concat(tx[:4], []byte{0xfd, 0x01, 0x00}, tx[5:]))
				return marshal(t, p)
			}),
		valid("valid-complete-tag-48-bytes.json", "a tag of 48 bytes before the root: 80 bytes of OP_RETURN data, pushed with OP_PUSHDATA1",
			func(t *testing.T) []byte {
				f := newFixture(t, nil)
				p := f.complete(t)
				newAnchor(t, p, anchorTx(f.cp.Root, fill("tag", 48)).serialize(false))
				return marshal(t, p)
			}),
		valid("valid-complete-escaped.json", "JSON escapes in strings: \\/ in the service, \\u2014 for the checkpoint's em dash",
			func(t *testing.T) []byte {
				b := replaceOnce(t, validComplete(t), `"https://notary.example"`, `"https:\/\/notary.example"`)
				return replaceOnce(t, b, `\n\n— `, `\n\n\u2014 `)
			}),
		valid("valid-pending-first-entry.json", "the first entry of a log of one: an empty inclusion path, written []",
			func(t *testing.T) []byte { return marshal(t, firstEntry(t, []merkle.Hash{})) }),
		valid("valid-pending-first-entry-null.json", "the first entry of a log of one: an empty inclusion path, written null",
			func(t *testing.T) []byte { return marshal(t, firstEntry(t, nil)) }),
		{goldenEntry{File: "valid-pending-key-with-plus.json", Trusted: []string{forgerVkey}, Valid: true,
			Models: "a pending proof of a log whose key has a + in its base64, trusted"},
			func(t *testing.T) []byte {
				f := newFixture(t, nil)
				p := f.pending(t)
				signedBy(t, f, p, forgerSkey, forgerVkey)
				return marshal(t, p)
			}},

		witnessCase("valid-pending-cosigned.json", "", "a pending proof whose checkpoint two witnesses cosigned, both required",
			[]string{goldenW1.vkey, goldenW2.vkey}, 2, goldenW1, goldenW2),
		witnessCase("valid-pending-cosigned-quorum-one-of-two.json", "", "a pending proof cosigned by one witness of the two given, one required",
			[]string{goldenW1.vkey, goldenW3.vkey}, 1, goldenW1),
		witnessCase("pending-cosigned-wrong-witness-key.json", notary.StepWitness, "a pending proof cosigned by a witness, checked with the key of another",
			[]string{goldenW3.vkey}, 1, goldenW1, goldenW2),
		witnessCase("pending-cosigned-quorum-not-met.json", notary.StepWitness, "a pending proof cosigned by one witness where two are required",
			[]string{goldenW1.vkey, goldenW2.vkey}, 2, goldenW1),
		witnessCase("pending-not-cosigned.json", notary.StepWitness, "a pending proof without cosignatures, a witness required",
			[]string{goldenW1.vkey}, 1),
		{goldenEntry{File: "pending-cosignature-altered.json", Trusted: trusted, Stage: "verify", Step: notary.StepWitness,
			Witnesses: []string{goldenW1.vkey}, WitnessQuorum: 1,
			Models: "a pending proof whose witness cosignature has one base64 character changed past its key hash"},
			func(t *testing.T) []byte {
				p := newFixture(t, nil).pending(t)
				p.Log.Checkpoint = string(goldenCosign(t, []byte(p.Log.Checkpoint), goldenW1))
				at := strings.Index(p.Log.Checkpoint, "— w1.example ") + len("— w1.example ") + 20
				c := byte('A')
				if p.Log.Checkpoint[at] == 'A' {
					c = 'B'
				}
				p.Log.Checkpoint = p.Log.Checkpoint[:at] + string(c) + p.Log.Checkpoint[at+1:]
				return marshal(t, p)
			}},

		parseFails("truncated.json", "a file cut in the middle", func(t *testing.T) []byte {
			b := validComplete(t)
			return b[:len(b)/2]
		}),
		parseFails("trailing-garbage.json", "text after the proof's JSON object", func(t *testing.T) []byte {
			return append(validComplete(t), "garbage\n"...)
		}),
		parseFails("unknown-field.json", "a field the format does not define", func(t *testing.T) []byte {
			return bytes.Replace(validComplete(t), []byte("{\n"), []byte("{\n  \"comment\": \"not in the format\",\n"), 1)
		}),
		parseFails("wrong-format-string.json", "a format string of a version this verifier does not know", completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Format = "notary-proof/v2"
		})),
		parseFails("network-empty.json", "an empty network name", completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Bitcoin.Network = ""
		})),
		parseFails("network-bitcoin.json", "the network \"bitcoin\", a name the format does not list", completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Bitcoin.Network = "bitcoin"
		})),
		parseFails("network-capitalised.json", "the network \"Regtest\": names are exact, in lower case", completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Bitcoin.Network = "Regtest"
		})),
		parseFails("key-twice.json", "a member twice in one object (the digest of another document after the proof's)", func(t *testing.T) []byte {
			return replaceOnce(t, validComplete(t), `"format": "notary-proof/v1",`,
				`"format": "notary-proof/v1", "digest": "`+testDigest(100).String()+`",`)
		}),
		parseFails("key-in-another-case.json", "a member name in another case (\"Digest\"), which Go's decoder would match", func(t *testing.T) []byte {
			return replaceOnce(t, validComplete(t), `"digest":`, `"Digest":`)
		}),
		parseFails("number-minus-zero.json", "the number -0, another text for 0", func(t *testing.T) []byte {
			return replaceOnce(t, marshal(t, firstEntry(t, nil)), `"index": 0`, `"index": -0`)
		}),
		parseFails("invalid-utf8.json", "a byte that is not UTF-8 (ff) in the checkpoint, which a decoder would read as U+FFFD", func(t *testing.T) []byte {
			return replaceOnce(t, validComplete(t), `notary.example/log\n13`, "notary.example/log\xff\\n13")
		}),
		parseFails("lone-surrogate-escape.json", "an escaped lone surrogate (\\ud800) in the checkpoint: no character", func(t *testing.T) []byte {
			return replaceOnce(t, validComplete(t), `notary.example/log\n13`, `notary.example/log\ud800\n13`)
		}),
		parseFails("service-empty.json", "an empty service (it is omitted when there is none)", func(t *testing.T) []byte {
			return replaceOnce(t, validComplete(t), `"https://notary.example"`, `""`)
		}),
		parseFails("service-not-a-url.json", "a service that is a host name, not an http(s) URL", completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Service = "notary.example"
		})),
		parseFails("service-javascript-url.json", "a service that is a javascript: URL", completeWith(func(t *testing.T, f *fixture, p *notary.Proof) {
			p.Service = "javascript:alert(1)"
		})),
		parseFails("oversized.json", "a file of MaxProofSize+1 bytes (a valid proof padded with spaces)", func(t *testing.T) []byte {
			b := validComplete(t)
			return append(b, bytes.Repeat([]byte(" "), notary.MaxProofSize+1-len(b))...)
		}),
	}
}

// setPaddingBit returns the base64 text b64, which ends in padding, with the last padding bit
// of its last character set: another text of the same bytes for a lenient decoder.
func setPaddingBit(tb testing.TB, b64 string) string {
	tb.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	last := len(strings.TrimRight(b64, "=")) - 1
	if last == len(b64)-1 {
		tb.Fatalf("%q has no padding", b64)
	}
	return b64[:last] + string(alphabet[strings.IndexByte(alphabet, b64[last])|1]) + b64[last+1:]
}

// firstEntry returns the pending proof of the first entry of a log of one entry, whose
// inclusion path is empty: inclusion, nil or not.
func firstEntry(tb testing.TB, inclusion []merkle.Hash) *notary.Proof {
	tb.Helper()
	log := newMemLog(tb, 1)
	cp, err := notary.SignCheckpoint(1, log.Root(tb, 1), newSigner(tb, logSkey))
	if err != nil {
		tb.Fatal(err)
	}
	e := log.Entries[0]
	return &notary.Proof{
		Format: notary.ProofFormat,
		Digest: e.Digest,
		Entry:  notary.ProofEntry{Index: 0, ReceivedMS: e.Time.UnixMilli(), Nonce: e.Nonce[:]},
		Log:    notary.ProofLog{Key: logVkey, Checkpoint: string(cp.Note), Inclusion: inclusion},
	}
}

// goldenManifest returns the manifest of cases, as written to manifest.json.
func goldenManifest(t *testing.T, cases []goldenCase) []byte {
	entries := make([]goldenEntry, len(cases))
	for i, c := range cases {
		entries[i] = c.goldenEntry
	}
	b, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestGolden checks the golden proofs in testdata/proofs: each file is what the generator
// makes, and parsing and verifying it gives what the manifest says. Regenerate them with
//
//	go test ./notary -run TestGolden -update
func TestGolden(t *testing.T) {
	cases := goldenCases()
	want := map[string][]byte{"manifest.json": goldenManifest(t, cases)}
	for _, c := range cases {
		want[c.File] = c.gen(t)
	}
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range want {
			if err := os.WriteFile(filepath.Join(goldenDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	names, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatalf("%v (generate the golden files with: go test ./notary -run TestGolden -update)", err)
	}
	for _, n := range names {
		if _, ok := want[n.Name()]; !ok {
			t.Errorf("%s/%s is not a golden file of the generator: remove it or add it to goldenCases", goldenDir, n.Name())
		}
	}
	manifest, err := os.ReadFile(filepath.Join(goldenDir, "manifest.json"))
	if err != nil {
		t.Fatalf("%v (generate it with: go test ./notary -run TestGolden -update)", err)
	}
	if !bytes.Equal(manifest, want["manifest.json"]) {
		t.Errorf("%s/manifest.json is stale: regenerate it with go test ./notary -run TestGolden -update", goldenDir)
	}

	for _, c := range cases {
		t.Run(strings.TrimSuffix(c.File, ".json"), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(goldenDir, c.File))
			if err != nil {
				t.Fatalf("%v (generate it with: go test ./notary -run TestGolden -update)", err)
			}
			if !bytes.Equal(data, want[c.File]) {
				t.Errorf("%s differs from what the generator makes: regenerate with -update if the change is intended", c.File)
			}
			p, err := notary.ParseProof(data)
			if c.Stage == "parse" {
				if got := stepOf(t, err); got != c.Step {
					t.Fatalf("ParseProof error %v: step %q, want %q", err, got, c.Step)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseProof: %v", err)
			}
			var keys []note.Verifier
			for _, k := range c.Trusted {
				keys = append(keys, mustVerifier(t, k))
			}
			v, err := notary.Verify(p, note.VerifierList(keys...))
			if err == nil && len(c.Witnesses) > 0 && !p.Complete() {
				_, err = notary.VerifyWitnesses(p, cosigVerifiers(t, c.Witnesses...), c.WitnessQuorum)
			}
			if got := stepOf(t, err); got != c.Step {
				t.Fatalf("Verify error %v: step %q, want %q", err, got, c.Step)
			}
			var nte *notary.NotTrustedError
			if (c.Step == notary.StepKey) != errors.As(err, &nte) {
				t.Errorf("Verify error %v: a *NotTrustedError is for a failed key step, and only for it", err)
			}
			if c.Valid {
				checkVerified(t, p, v, c.Trusted)
			}
		})
	}
}

// checkVerified checks what Verify established for a valid golden proof, checked trusting
// the keys trusted.
func checkVerified(t *testing.T, p *notary.Proof, v *notary.Verified, trusted []string) {
	t.Helper()
	e := testEntry(p.Entry.Index)
	if v.Digest != e.Digest || v.Index != e.Index || !v.Received.Equal(e.Time) {
		t.Errorf("Verified entry = %v %d %v, want %v %d %v", v.Digest, v.Index, v.Received, e.Digest, e.Index, e.Time)
	}
	cp, err := notary.OpenCheckpoint([]byte(p.Log.Checkpoint), p.Log.Key)
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Contains(trusted, p.Log.Key); v.Origin != logName || v.Key != p.Log.Key || v.LogSize != cp.Size || v.KeyTrusted != want {
		t.Errorf("Verified log = %s %s size %d, key trusted %v; want %s %s size %d, trusted %v",
			v.Origin, v.Key, v.LogSize, v.KeyTrusted, logName, p.Log.Key, cp.Size, want)
	}
	if v.LogRoot != newMemLog(t, cp.Size).Root(t, cp.Size) {
		t.Errorf("Verified.LogRoot = %v, not the log's root", v.LogRoot)
	}
	if v.Complete != p.Complete() {
		t.Fatalf("Verified.Complete = %v, Proof.Complete() = %v", v.Complete, p.Complete())
	}
	if !v.Complete {
		return
	}
	h := notary.Header(p.Bitcoin.Header)
	if v.Network != p.Bitcoin.Network || v.Height != fixtureHeight || v.TxID != merkle.DoubleSHA256(p.Bitcoin.Tx) ||
		v.BlockHash != h.Hash() || v.Header != h || !v.BlockTime.Equal(blockTime) {
		t.Errorf("Verified Bitcoin = %s height %d txid %s block %s time %v, want %s height %d txid %s block %s time %v",
			v.Network, v.Height, notary.ReverseHex(v.TxID), notary.ReverseHex(v.BlockHash), v.BlockTime,
			p.Bitcoin.Network, fixtureHeight, notary.ReverseHex(merkle.DoubleSHA256(p.Bitcoin.Tx)), notary.ReverseHex(h.Hash()), blockTime)
	}
}

// goldenFiles returns the contents of the golden proof files, for seeding fuzz targets.
func goldenFiles(tb testing.TB) map[string][]byte {
	tb.Helper()
	files := map[string][]byte{}
	for _, c := range goldenCases() {
		b, err := os.ReadFile(filepath.Join(goldenDir, c.File))
		if err != nil {
			tb.Fatalf("%v (generate it with: go test ./notary -run TestGolden -update)", err)
		}
		files[c.File] = b
	}
	return files
}
