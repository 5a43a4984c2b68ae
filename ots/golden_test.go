package ots_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/ots"
)

var update = flag.Bool("update", false, "rewrite the generated golden files and testdata/manifest.json")

// goldenEntry is one line of testdata/manifest.json, which other implementations can read
// to know what each file must give.
type goldenEntry struct {
	File   string `json:"file"`
	Models string `json:"models"` // what the file is: its source, or the mistake or attack it models
	Valid  bool   `json:"valid"`
	// Canonical: the file is exactly what the reference writes for its tree, so parsing
	// and marshalling it gives the same bytes.
	Canonical bool `json:"canonical,omitempty"`
	// Stricter: the reference accepts this invalid file; this package rejects it.
	Stricter bool `json:"stricter,omitempty"`
	// Document is the timestamped file, for the proofs that come with it.
	Document string `json:"document,omitempty"`
	// Attestations of a valid file: message, tag and payload in hex, sorted.
	Attestations [][3]string `json:"attestations,omitempty"`
}

// goldenCase is a golden file and how it is made; make is nil for the real proofs, which
// come from the OpenTimestamps projects and are never regenerated.
type goldenCase struct {
	goldenEntry
	make func(t *testing.T) []byte
}

var (
	goldenDigest = sha256.Sum256([]byte("notary ots golden"))
	goldenURI    = "https://calendar.example"
)

// file returns an .ots file of goldenDigest with the given tree bytes.
func file(tree ...[]byte) []byte {
	b := append([]byte(ots.Magic), 0x01, 0x08)
	b = append(b, goldenDigest[:]...)
	return append(b, bytes.Join(tree, nil)...)
}

func varuint(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func varbytes(b []byte) []byte { return append(varuint(uint64(len(b))), b...) }

// attestation returns an attestation entry: marker, tag, payload.
func attestation(tag ots.Tag, payload []byte) []byte {
	return bytes.Join([][]byte{{0x00}, tag[:], varbytes(payload)}, nil)
}

func pending(uri string) []byte { return attestation(ots.PendingTag, varbytes([]byte(uri))) }
func bitcoin(h uint64) []byte   { return attestation(ots.BitcoinTag, varuint(h)) }

func fixed(b []byte) func(*testing.T) []byte { return func(*testing.T) []byte { return b } }

// edited returns a real golden file after edit.
func edited(name string, edit func([]byte) []byte) func(*testing.T) []byte {
	return func(t *testing.T) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return edit(b)
	}
}

// marshalled returns the file of a tree built with the package.
func marshalled(build func(t *testing.T) *ots.File) func(*testing.T) []byte {
	return func(t *testing.T) []byte {
		b, err := build(t).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

func goldenCases() []goldenCase {
	real := func(file, models, doc string) goldenCase {
		return goldenCase{goldenEntry{File: file, Models: models, Valid: true, Canonical: true, Document: doc}, nil}
	}
	valid := func(file, models string, canonical bool, make func(*testing.T) []byte) goldenCase {
		return goldenCase{goldenEntry{File: file, Models: models, Valid: true, Canonical: canonical}, make}
	}
	invalid := func(file, models string, make func(*testing.T) []byte) goldenCase {
		return goldenCase{goldenEntry{File: file, Models: models}, make}
	}
	stricter := func(file, models string, make func(*testing.T) []byte) goldenCase {
		return goldenCase{goldenEntry{File: file, Models: models, Stricter: true}, make}
	}
	long := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	return []goldenCase{
		real("hello-world.txt.ots", "real: the OpenTimestamps client's example, complete: ripemd160, a Bitcoin transaction, block 358391", "hello-world.txt"),
		real("incomplete.txt.ots", "real: the OpenTimestamps client's example, pending at one calendar", "incomplete.txt"),
		real("incomplete-upgraded.txt.ots", "real: the same timestamp upgraded: the pending attestation and, on a fork, a Bitcoin one at block 428648", "incomplete.txt"),
		real("three-calendars.ots", "real: a timestamp from three calendars, each pending and completed by a Bitcoin block: forks at the root and below", ""),

		valid("every-op.ots", "a chain through every operation of the format", true, marshalled(func(t *testing.T) *ots.File {
			ops := []merkle.Op{
				{Code: ots.OpSHA1}, {Code: ots.OpRIPEMD160}, {Code: ots.OpKeccak256}, {Code: ots.OpReverse},
				{Code: ots.OpHexlify}, {Code: ots.OpAppend, Arg: []byte("suffix")}, {Code: ots.OpPrepend, Arg: []byte("prefix")},
				{Code: ots.OpSHA256},
			}
			f, err := ots.NewFile(goldenDigest, ops, ots.Bitcoin{Height: 800000})
			if err != nil {
				t.Fatal(err)
			}
			return f
		})),
		valid("sort-order.ots", "one node with attestations and branches that only the reference's order sorts right: heights whose encodings sort otherwise, URIs, tags, arguments that prefix others", true, marshalled(func(t *testing.T) *ots.File {
			root := &ots.Timestamp{Msg: goldenDigest[:]}
			root.Attestations = []ots.Attestation{
				ots.Bitcoin{Height: 256}, ots.Bitcoin{Height: 129}, ots.Bitcoin{Height: 2},
				ots.Pending{URI: "https://b.example"}, ots.Pending{URI: "https://a.example/x"}, ots.Pending{URI: "https://a.example"},
				ots.Unknown{Kind: ots.LitecoinTag, Data: varuint(256)}, ots.Unknown{Kind: ots.LitecoinTag, Data: varuint(129)},
				ots.Unknown{Kind: ots.Tag{0xff, 1}, Data: []byte{2}}, ots.Unknown{Kind: ots.Tag{0xff, 1}, Data: []byte{1, 9}},
				ots.Unknown{Kind: ots.Tag{0x00, 1}, Data: nil},
			}
			for _, op := range []merkle.Op{
				{Code: ots.OpPrepend, Arg: []byte("a")}, {Code: ots.OpAppend, Arg: []byte("ab")}, {Code: ots.OpAppend, Arg: []byte("b")},
				{Code: ots.OpAppend, Arg: []byte("a")}, {Code: ots.OpSHA256}, {Code: ots.OpSHA1}, {Code: ots.OpHexlify},
			} {
				child, err := ots.NewTimestamp(root.Msg, []merkle.Op{op}, ots.Bitcoin{Height: 1})
				if err != nil {
					t.Fatal(err)
				}
				root.Branches = append(root.Branches, child.Branches...)
			}
			return &ots.File{HashOp: ots.OpSHA256, Timestamp: root}
		})),
		valid("deepest.ots", "the deepest tree the reference reads: 255 operations below the digest", true,
			fixed(file(bytes.Repeat([]byte{0x08}, ots.MaxDepth-1), bitcoin(1)))),
		valid("unsorted.ots", "branches and attestations out of the reference's order: accepted, written back sorted", false,
			fixed(file([]byte{0xff}, bitcoin(2), []byte{0xff}, bitcoin(1), []byte{0xff, 0xf0, 0x01, 'b'}, bitcoin(3), []byte{0xf0, 0x01, 'a'}, bitcoin(3)))),

		invalid("bad-magic.ots", "the magic header altered", edited("hello-world.txt.ots", func(b []byte) []byte { b[1] = 'o'; return b })),
		invalid("bad-major-version.ots", "major version 2", fixed(slices.Concat([]byte(ots.Magic), []byte{0x02, 0x08}, goldenDigest[:], bitcoin(1)))),
		invalid("unknown-file-hash-op.ots", "the file hashed with an operation that is not a hash (append)", fixed(slices.Concat([]byte(ots.Magic), []byte{0x01, 0xf0}, goldenDigest[:], bitcoin(1)))),
		invalid("truncated.ots", "a complete proof missing its last byte", edited("hello-world.txt.ots", func(b []byte) []byte { return b[:len(b)-1] })),
		invalid("trailing-garbage.ots", "a complete proof followed by a byte", edited("hello-world.txt.ots", func(b []byte) []byte { return append(b, 0x00) })),
		invalid("fork-at-end.ots", "a fork marker with nothing after it", fixed(file([]byte{0xff}))),
		invalid("double-fork-marker.ots", "two fork markers in a row", fixed(file([]byte{0xff, 0xff}, bitcoin(1), bitcoin(2)))),
		invalid("unknown-op.ots", "an operation the format does not have (0x04)", fixed(file([]byte{0x04}, bitcoin(1)))),
		invalid("empty-append.ots", "an append of nothing", fixed(file([]byte{0xf0, 0x00}, bitcoin(1)))),
		invalid("result-too-long.ots", "an append whose result is 4097 bytes", fixed(file([]byte{0xf0}, varbytes(long(4097-32)), bitcoin(1)))),
		invalid("hexlify-too-long.ots", "hexlify of 2049 bytes, whose result would exceed 4096", fixed(file([]byte{0xf0}, varbytes(long(2049-32)), []byte{0xf3}, bitcoin(1)))),
		invalid("too-deep.ots", "256 operations below the digest, one more than the reference reads", fixed(file(bytes.Repeat([]byte{0x08}, ots.MaxDepth), bitcoin(1)))),
		invalid("uri-bad-character.ots", "a calendar URI with a query", fixed(file(pending(goldenURI+"/?x=1")))),
		invalid("uri-too-long.ots", "a calendar URI of 1001 bytes", fixed(file(pending("https://"+strings.Repeat("a", 1001-8))))),
		invalid("pending-payload-trailing.ots", "a pending attestation with a byte after its URI", fixed(file(attestation(ots.PendingTag, append(varbytes([]byte(goldenURI)), 0))))),
		invalid("bitcoin-payload-trailing.ots", "a Bitcoin attestation with a byte after its height", fixed(file(attestation(ots.BitcoinTag, []byte{0x01, 0x00})))),
		invalid("litecoin-payload-empty.ots", "a Litecoin attestation without a height", fixed(file(attestation(ots.LitecoinTag, nil)))),
		invalid("payload-too-long.ots", "an attestation payload of 8193 bytes", fixed(file(attestation(ots.Tag{1, 2, 3, 4, 5, 6, 7, 8}, long(8193))))),

		stricter("non-minimal-length.ots", "an argument length in two bytes (0x81 0x00) where one does", fixed(file([]byte{0xf0, 0x81, 0x00, 'x'}, bitcoin(1)))),
		stricter("non-minimal-height.ots", "a block height in two bytes (0x81 0x00) where one does", fixed(file(attestation(ots.BitcoinTag, []byte{0x81, 0x00})))),
		stricter("duplicate-attestation.ots", "the same attestation twice on a node (the reference keeps one)", fixed(file([]byte{0xff}, bitcoin(1), bitcoin(1)))),
		stricter("duplicate-branch.ots", "the same operation twice on a node (the reference keeps the last)", fixed(file([]byte{0xff, 0x08}, bitcoin(1), []byte{0x08}, bitcoin(2)))),
	}
}

// facts returns message, tag and payload of every attestation of t, in hex, sorted: the
// form the reference test driver prints.
func facts(t *ots.Timestamp) [][3]string {
	var out [][3]string
	for _, at := range t.AllAttestations() {
		tag := at.Attestation.Tag()
		out = append(out, [3]string{hex.EncodeToString(at.Node.Msg), hex.EncodeToString(tag[:]), hex.EncodeToString(at.Attestation.Payload())})
	}
	slices.SortFunc(out, func(a, b [3]string) int { return slices.Compare(a[:], b[:]) })
	return out
}

// TestGoldenUpdate regenerates the generated golden files and the manifest under -update,
// then checks that the manifest lists exactly the cases.
func TestGoldenUpdate(t *testing.T) {
	cases := goldenCases()
	if *update {
		var manifest []goldenEntry
		for _, c := range cases {
			path := filepath.Join("testdata", c.File)
			if c.make != nil {
				if err := os.WriteFile(path, c.make(t), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			e := c.goldenEntry
			if e.Valid {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				f, err := ots.ParseFile(data)
				if err != nil {
					t.Fatalf("%s: %v", c.File, err)
				}
				e.Attestations = facts(f.Timestamp)
			}
			manifest = append(manifest, e)
		}
		data, err := json.MarshalIndent(manifest, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "manifest.json"), append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifest := readManifest(t)
	if len(manifest) != len(cases) {
		t.Fatalf("manifest has %d entries, the cases are %d: run go test -run TestGoldenUpdate -update", len(manifest), len(cases))
	}
	for i, c := range cases {
		if c.make != nil {
			data, err := os.ReadFile(filepath.Join("testdata", c.File))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, c.make(t)) {
				t.Errorf("%s differs from what its case makes: run go test -run TestGoldenUpdate -update", c.File)
			}
		}
		if m := manifest[i]; m.File != c.File || m.Valid != c.Valid || m.Stricter != c.Stricter || m.Canonical != c.Canonical {
			t.Errorf("manifest entry %d is %+v, the case is %+v", i, m, c.goldenEntry)
		}
	}
}

func readManifest(t *testing.T) []goldenEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m []goldenEntry
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestGolden parses every golden file: the valid ones give the manifest's attestations and,
// canonical ones, their own bytes back; the invalid ones are rejected.
func TestGolden(t *testing.T) {
	for _, e := range readManifest(t) {
		t.Run(e.File, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", e.File))
			if err != nil {
				t.Fatal(err)
			}
			f, err := ots.ParseFile(data)
			if !e.Valid {
				if err == nil {
					t.Fatalf("parsed a file that models %s", e.Models)
				}
				t.Logf("rejected: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := facts(f.Timestamp); !slices.Equal(got, e.Attestations) {
				t.Errorf("attestations\n%v\nwant\n%v", got, e.Attestations)
			}
			out, err := f.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if e.Canonical && !bytes.Equal(out, data) {
				t.Errorf("round trip changed the bytes:\n got %x\nwant %x", out, data)
			}
			again, err := ots.ParseFile(out)
			if err != nil || !again.Timestamp.Equal(f.Timestamp) {
				t.Errorf("the marshalled file does not parse back to the same tree (%v)", err)
			}
			if e.Document != "" {
				doc, err := os.ReadFile(filepath.Join("testdata", e.Document))
				if err != nil {
					t.Fatal(err)
				}
				if sum := sha256.Sum256(doc); !bytes.Equal(sum[:], f.Digest()) {
					t.Errorf("%s has SHA-256 %x, the proof is for %x", e.Document, sum, f.Digest())
				}
			}
		})
	}
}

// TestGoldenBlockRoots checks the real proofs against what their projects publish: the
// Merkle roots of the blocks they are anchored in, as explorers print them.
func TestGoldenBlockRoots(t *testing.T) {
	for file, want := range map[string]map[uint64]string{
		"hello-world.txt.ots": {358391: "8a1b66ecb7cbd07d8139a7e7d7f2c41aab1f5009b8364aaf61d03ad245e47e00"},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		f, err := ots.ParseFile(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range f.Timestamp.AllAttestations() {
			b, ok := at.Attestation.(ots.Bitcoin)
			if !ok {
				continue
			}
			root := slices.Clone(at.Node.Msg)
			slices.Reverse(root)
			if got := hex.EncodeToString(root); got != want[b.Height] {
				t.Errorf("%s: block %d Merkle root %s, want %s", file, b.Height, got, want[b.Height])
			}
		}
	}
}
