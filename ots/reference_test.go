package ots_test

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/ots"
	"github.com/notary-dev/notary/ots/reftest"
)

// The tests in this file hold the package to the reference implementation: they fail where
// python3-opentimestamps is not installed (see package reftest).

// TestReferenceGolden has the reference read every golden file: it must accept the valid
// ones, find the manifest's attestations in them and write them back as this package does
// (and, for canonical files, byte for byte as they are), and reject the invalid ones but
// those where this package is deliberately stricter.
func TestReferenceGolden(t *testing.T) {
	manifest := readManifest(t)
	var files [][]byte
	for _, e := range manifest {
		data, err := os.ReadFile(filepath.Join("testdata", e.File))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, data)
	}
	parsed := reftest.Parse(t, files)
	for i, e := range manifest {
		p := parsed[i]
		switch {
		case e.Valid:
			if !p.OK {
				t.Errorf("%s: the reference rejects it: %s", e.File, p.Error)
				continue
			}
			if !slices.Equal(p.Attestations, e.Attestations) {
				t.Errorf("%s: the reference finds the attestations\n%v\nnot\n%v", e.File, p.Attestations, e.Attestations)
			}
			f, err := ots.ParseFile(files[i])
			if err != nil {
				t.Fatal(err)
			}
			ours, _ := f.MarshalBinary()
			if p.Hex != hex.EncodeToString(ours) {
				t.Errorf("%s: the reference writes\n%s\nthis package\n%x", e.File, p.Hex, ours)
			}
			if e.Canonical && p.Hex != hex.EncodeToString(files[i]) {
				t.Errorf("%s: the reference does not write it back as it is", e.File)
			}
		case e.Stricter:
			if !p.OK {
				t.Errorf("%s is marked as accepted by the reference, which rejects it: %s", e.File, p.Error)
			}
		default:
			if p.OK {
				t.Errorf("%s: the reference accepts a file that models %s", e.File, e.Models)
			}
		}
	}
}

// TestReferenceRandomFiles parses random files that the reference built with its own API:
// forks, every operation and attestation type, all sorted its way. Each must give the same
// attestations on the same messages, and marshal back to the same bytes.
func TestReferenceRandomFiles(t *testing.T) {
	lines := reftest.Run(t, nil, "random", "20260101", "300")
	if len(lines) != 300 {
		t.Fatalf("the reference made %d files", len(lines))
	}
	for i, l := range lines {
		var r struct {
			Hex          string      `json:"hex"`
			Attestations [][3]string `json:"attestations"`
		}
		reftest.Decode(t, l, &r)
		data, _ := hex.DecodeString(r.Hex)
		f, err := ots.ParseFile(data)
		if err != nil {
			t.Fatalf("file %d: %v\n%s", i, err, r.Hex)
		}
		if got := facts(f.Timestamp); !slices.Equal(got, r.Attestations) {
			t.Fatalf("file %d: attestations\n%v\nthe reference's\n%v", i, got, r.Attestations)
		}
		out, err := f.MarshalBinary()
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("file %d: marshals to\n%x\nthe reference wrote\n%s", i, out, r.Hex)
		}
	}
}

// TestGoFilesThroughReference has the reference read random files this package built: it
// must accept them, find the same attestations, and write them back byte for byte.
func TestGoFilesThroughReference(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	var files [][]byte
	var trees []*ots.File
	for range 300 {
		f := randomFile(rnd)
		data, err := f.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, data)
		trees = append(trees, f)
	}
	for i, p := range reftest.Parse(t, files) {
		if !p.OK {
			t.Fatalf("file %d: the reference rejects it: %s\n%x", i, p.Error, files[i])
		}
		if p.Hex != hex.EncodeToString(files[i]) {
			t.Fatalf("file %d: the reference writes\n%s\nthis package\n%x", i, p.Hex, files[i])
		}
		if got := facts(trees[i].Timestamp); !slices.Equal(got, p.Attestations) {
			t.Fatalf("file %d: attestations\n%v\nthe reference's\n%v", i, got, p.Attestations)
		}
	}
}

// randomFile returns a random file with forks, every operation and attestation type, and
// heights of every encoded length, so that ordering mistakes show.
func randomFile(rnd *rand.Rand) *ots.File {
	ops := []merkle.OpCode{ots.OpSHA256, ots.OpSHA1, ots.OpRIPEMD160, ots.OpKeccak256}
	hashOp := ops[rnd.IntN(len(ops))]
	h, _ := ots.NewHash(hashOp)
	h.Write(randomBytes(rnd, 0, 100))
	root := &ots.Timestamp{Msg: h.Sum(nil)}
	grow(rnd, root, 0)
	return &ots.File{HashOp: hashOp, Timestamp: root}
}

func randomBytes(rnd *rand.Rand, minLen, maxLen int) []byte {
	b := make([]byte, minLen+rnd.IntN(maxLen-minLen))
	for i := range b {
		b[i] = byte(rnd.UintN(256))
	}
	return b
}

func randomAttestation(rnd *rand.Rand) ots.Attestation {
	heights := []uint64{rnd.Uint64N(128), rnd.Uint64N(1 << 14), rnd.Uint64N(1 << 21), rnd.Uint64N(1 << 40)}
	h := heights[rnd.IntN(len(heights))]
	const uriChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._/:"
	switch rnd.IntN(6) {
	case 0:
		uri := []byte("https://")
		for range 1 + rnd.IntN(29) {
			uri = append(uri, uriChars[rnd.IntN(len(uriChars))])
		}
		return ots.Pending{URI: string(uri)}
	case 1, 2:
		return ots.Bitcoin{Height: h}
	case 3:
		return ots.Unknown{Kind: ots.LitecoinTag, Data: varuint(h)}
	case 4:
		return ots.Unknown{Kind: ots.EthereumTag, Data: varuint(h)}
	}
	tag := ots.Tag{0x05, 0x88, 0x96, 0x0d, 0x73, 0xd7, 0x19, 0x00}
	if rnd.IntN(2) == 0 {
		copy(tag[:], randomBytes(rnd, 8, 9))
	}
	return ots.Unknown{Kind: tag, Data: randomBytes(rnd, 0, 20)}
}

func randomOp(rnd *rand.Rand, msg []byte) merkle.Op {
	codes := []merkle.OpCode{ots.OpAppend, ots.OpPrepend, ots.OpSHA256, ots.OpSHA1, ots.OpRIPEMD160, ots.OpKeccak256, ots.OpReverse}
	if len(msg) <= 1000 {
		codes = append(codes, ots.OpHexlify)
	}
	op := merkle.Op{Code: codes[rnd.IntN(len(codes))]}
	if op.Code == ots.OpAppend || op.Code == ots.OpPrepend {
		op.Arg = randomBytes(rnd, 1, 40)
	}
	return op
}

func grow(rnd *rand.Rand, t *ots.Timestamp, depth int) {
	forks := 0
	if depth < 12 {
		forks = []int{0, 1, 1, 1, 2, 3}[rnd.IntN(6)]
	}
	atts := 1 + rnd.IntN(3)
	if forks > 0 {
		atts = []int{0, 0, 1, 2, 3}[rnd.IntN(5)]
	}
	for range atts {
		a := randomAttestation(rnd)
		if !slices.ContainsFunc(t.Attestations, func(b ots.Attestation) bool {
			return a.Tag() == b.Tag() && bytes.Equal(a.Payload(), b.Payload())
		}) {
			t.Attestations = append(t.Attestations, a)
		}
	}
	for range forks {
		op := randomOp(rnd, t.Msg)
		res, err := ots.Apply(op, t.Msg)
		if err != nil || slices.ContainsFunc(t.Branches, func(b ots.Branch) bool {
			return b.Op.Code == op.Code && bytes.Equal(b.Op.Arg, op.Arg)
		}) {
			continue
		}
		child := &ots.Timestamp{Msg: res}
		grow(rnd, child, depth+1)
		t.Branches = append(t.Branches, ots.Branch{Op: op, Result: child})
	}
	if len(t.Attestations) == 0 && len(t.Branches) == 0 {
		t.Attestations = append(t.Attestations, randomAttestation(rnd))
	}
}
