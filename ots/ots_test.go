package ots_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/ots"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHashes checks the hash operations outside the standard library against the published
// test vectors (RIPEMD-160: its authors'; Keccak-256: Ethereum's).
func TestHashes(t *testing.T) {
	million := strings.Repeat("a", 1_000_000)
	for _, tc := range []struct {
		op       merkle.OpCode
		in, want string
	}{
		{ots.OpRIPEMD160, "", "9c1185a5c5e9fc54612808977ee8f548b2258d31"},
		{ots.OpRIPEMD160, "abc", "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"},
		{ots.OpRIPEMD160, "message digest", "5d0689ef49d2fae572b881b123a85ffa21595f36"},
		{ots.OpRIPEMD160, "12345678901234567890123456789012345678901234567890123456789012345678901234567890", "9b752e45573d4b39f4dbd3323cab82bf63326bfb"},
		{ots.OpRIPEMD160, million, "52783243c1697bdbe16d37f97f68f08325dc1528"},
		{ots.OpKeccak256, "", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"},
		{ots.OpKeccak256, "abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"},
		{ots.OpKeccak256, million, "fadae6b49f129bbb812be8407b7b2894f34aecf6dbd1f9b0f0c7e9853098fc96"},
	} {
		name := ots.OpName(tc.op) + "/" + tc.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			h, err := ots.NewHash(tc.op)
			if err != nil {
				t.Fatal(err)
			}
			// Written in uneven pieces, with a Sum in the middle that must not disturb it.
			in := []byte(tc.in)
			for len(in) > 0 {
				n := min(len(in), 1+len(in)%97)
				h.Write(in[:n])
				in = in[n:]
				h.Sum(nil)
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if h.Size() != ots.DigestLen(tc.op) {
				t.Errorf("size %d, digest length %d", h.Size(), ots.DigestLen(tc.op))
			}
		})
	}
}

func TestApply(t *testing.T) {
	msg := []byte{0xab, 0xcd}
	long := bytes.Repeat([]byte{1}, ots.MaxMsgLen)
	for _, tc := range []struct {
		name string
		op   merkle.Op
		msg  []byte
		want string // hex; "" for an error
	}{
		{"append", merkle.Op{Code: ots.OpAppend, Arg: []byte{1}}, msg, "abcd01"},
		{"prepend", merkle.Op{Code: ots.OpPrepend, Arg: []byte{1}}, msg, "01abcd"},
		{"sha256", merkle.Op{Code: ots.OpSHA256}, nil, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"sha1", merkle.Op{Code: ots.OpSHA1}, nil, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{"reverse", merkle.Op{Code: ots.OpReverse}, msg, "cdab"},
		{"hexlify", merkle.Op{Code: ots.OpHexlify}, msg, hex.EncodeToString([]byte("abcd"))},
		{"append of nothing", merkle.Op{Code: ots.OpAppend}, msg, ""},
		{"sha256 with an argument", merkle.Op{Code: ots.OpSHA256, Arg: []byte{1}}, msg, ""},
		{"unknown op", merkle.Op{Code: 0x04}, msg, ""},
		{"result too long", merkle.Op{Code: ots.OpAppend, Arg: []byte{1}}, long, ""},
		{"message too long", merkle.Op{Code: ots.OpSHA256}, append(long, 1), ""},
		{"reverse of nothing", merkle.Op{Code: ots.OpReverse}, nil, ""},
		{"hexlify of nothing", merkle.Op{Code: ots.OpHexlify}, nil, ""},
		{"hexlify of the longest", merkle.Op{Code: ots.OpHexlify}, long[:ots.MaxMsgLen/2], strings.Repeat("3031", ots.MaxMsgLen/2)},
		{"hexlify of one more", merkle.Op{Code: ots.OpHexlify}, long[:ots.MaxMsgLen/2+1], ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ots.Apply(tc.op, tc.msg)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("got %x, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != tc.want {
				t.Errorf("got %x, want %s", got, tc.want)
			}
		})
	}
}

// TestMarshalOrder checks the writing order against bytes worked out by hand from the
// reference's rules: attestations before branches, each sorted, 0xff before all but the
// last entry.
func TestMarshalOrder(t *testing.T) {
	msg := []byte{0x01}
	sha, _ := ots.Apply(merkle.Op{Code: ots.OpSHA256}, msg)
	ts := &ots.Timestamp{
		Msg: msg,
		Attestations: []ots.Attestation{
			ots.Bitcoin{Height: 256}, // 80 02: after 129 (81 01) by height, before it by bytes
			ots.Pending{URI: "b"},
			ots.Bitcoin{Height: 129},
		},
		Branches: []ots.Branch{
			{Op: merkle.Op{Code: ots.OpAppend, Arg: []byte{2}}, Result: &ots.Timestamp{Msg: []byte{1, 2}, Attestations: []ots.Attestation{ots.Bitcoin{Height: 1}}}},
			{Op: merkle.Op{Code: ots.OpSHA256}, Result: &ots.Timestamp{Msg: sha, Attestations: []ots.Attestation{ots.Bitcoin{Height: 1}}}},
		},
	}
	got, err := ts.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"ff00" + "0588960d73d71901" + "028101", // Bitcoin 129
		"ff00" + "0588960d73d71901" + "028002", // Bitcoin 256
		"ff00" + "83dfe30d2ef90c8e" + "020162", // pending "b"
		"ff08" + "00" + "0588960d73d71901" + "0101",
		"f00102" + "00" + "0588960d73d71901" + "0101",
	}, "")
	if hex.EncodeToString(got) != want {
		t.Errorf("got\n%x\nwant\n%s", got, want)
	}
}

func TestNewFileRoundTrip(t *testing.T) {
	digest := sha256.Sum256([]byte("document"))
	ops := []merkle.Op{
		{Code: ots.OpPrepend, Arg: []byte{0x00, 0x01}},
		{Code: ots.OpAppend, Arg: bytes.Repeat([]byte{7}, 24)},
		{Code: ots.OpSHA256},
	}
	f, err := ots.NewFile(digest, ops, ots.Bitcoin{Height: 830000})
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ots.ParseFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Timestamp.Equal(f.Timestamp) || !bytes.Equal(back.Digest(), digest[:]) {
		t.Fatal("the file does not parse back to its tree")
	}
	want, err := merkle.Evaluate(digest[:], ops)
	if err != nil {
		t.Fatal(err)
	}
	atts := back.Timestamp.AllAttestations()
	if len(atts) != 1 || !bytes.Equal(atts[0].Node.Msg, want) || atts[0].Attestation != (ots.Bitcoin{Height: 830000}) {
		t.Fatalf("attestations %v, want Bitcoin 830000 on %x", atts, want)
	}
	if !back.Timestamp.Complete() {
		t.Error("not complete")
	}
}

func TestNewTimestampLimits(t *testing.T) {
	sha := merkle.Op{Code: ots.OpSHA256}
	if _, err := ots.NewTimestamp(nil, slices.Repeat([]merkle.Op{sha}, ots.MaxDepth-1), ots.Bitcoin{}); err != nil {
		t.Errorf("%d operations: %v", ots.MaxDepth-1, err)
	}
	if _, err := ots.NewTimestamp(nil, slices.Repeat([]merkle.Op{sha}, ots.MaxDepth), ots.Bitcoin{}); err == nil {
		t.Errorf("%d operations: no error", ots.MaxDepth)
	}
	if _, err := ots.NewTimestamp(nil, nil, ots.Pending{URI: "https://x/?q"}); err == nil {
		t.Error("a URI with a query: no error")
	}
	if _, err := ots.NewTimestamp(nil, []merkle.Op{{Code: ots.OpAppend}}, ots.Bitcoin{}); err == nil {
		t.Error("an empty append: no error")
	}
	if _, err := ots.NewTimestamp(nil, nil, ots.Unknown{Kind: ots.BitcoinTag, Data: []byte{1}}); err == nil {
		t.Error("an unknown attestation with the Bitcoin tag: no error")
	}
}

func TestMarshalRejects(t *testing.T) {
	leaf := func(msg []byte) *ots.Timestamp {
		return &ots.Timestamp{Msg: msg, Attestations: []ots.Attestation{ots.Bitcoin{Height: 1}}}
	}
	for _, tc := range []struct {
		name string
		ts   *ots.Timestamp
	}{
		{"empty node", &ots.Timestamp{Msg: []byte{1}}},
		{"attestation twice", &ots.Timestamp{Msg: []byte{1}, Attestations: []ots.Attestation{ots.Bitcoin{Height: 1}, ots.Bitcoin{Height: 1}}}},
		{"branch twice", &ots.Timestamp{Msg: []byte{1}, Branches: []ots.Branch{
			{Op: merkle.Op{Code: ots.OpAppend, Arg: []byte{2}}, Result: leaf([]byte{1, 2})},
			{Op: merkle.Op{Code: ots.OpAppend, Arg: []byte{2}}, Result: leaf([]byte{1, 2})},
		}}},
		{"wrong child message", &ots.Timestamp{Msg: []byte{1}, Branches: []ots.Branch{
			{Op: merkle.Op{Code: ots.OpAppend, Arg: []byte{2}}, Result: leaf([]byte{1, 3})},
		}}},
		{"branch to nothing", &ots.Timestamp{Msg: []byte{1}, Branches: []ots.Branch{{Op: merkle.Op{Code: ots.OpSHA256}}}}},
		{"height attestation without a height", &ots.Timestamp{Msg: []byte{1}, Attestations: []ots.Attestation{ots.Unknown{Kind: ots.LitecoinTag}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if b, err := tc.ts.MarshalBinary(); err == nil {
				t.Fatalf("marshalled to %x", b)
			}
		})
	}
}

// TestMerge models an upgrade: the calendar's answer merged into a pending file.
func TestMerge(t *testing.T) {
	digest := sha256.Sum256([]byte("document"))
	pendingFile, err := ots.NewFile(digest, nil, ots.Pending{URI: "https://notary.example"})
	if err != nil {
		t.Fatal(err)
	}
	ops := []merkle.Op{{Code: ots.OpAppend, Arg: []byte{9}}, {Code: ots.OpSHA256}}
	answer, err := ots.NewTimestamp(digest[:], ops, ots.Bitcoin{Height: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := pendingFile.Timestamp.Merge(answer); err != nil {
		t.Fatal(err)
	}
	// Merging again changes nothing; merging another branch adds it.
	if err := pendingFile.Timestamp.Merge(answer); err != nil {
		t.Fatal(err)
	}
	other, _ := ots.NewTimestamp(digest[:], ops[:1], ots.Bitcoin{Height: 7})
	if err := pendingFile.Timestamp.Merge(other); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, at := range pendingFile.Timestamp.AllAttestations() {
		got = append(got, at.Attestation.String())
	}
	want := []string{"PendingAttestation('https://notary.example')", "BitcoinBlockHeaderAttestation(7)", "BitcoinBlockHeaderAttestation(5)"}
	if !slices.Equal(got, want) {
		t.Errorf("attestations %q, want %q", got, want)
	}
	if _, err := pendingFile.MarshalBinary(); err != nil {
		t.Error(err)
	}
	if err := pendingFile.Timestamp.Merge(&ots.Timestamp{Msg: []byte{1}}); err == nil {
		t.Error("merged the timestamp of another message")
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := ots.ParseFile([]byte("{\"format\": \"notary-proof/v1\"}")); !errors.Is(err, ots.ErrNotOTS) {
		t.Errorf("a JSON proof: %v, want ErrNotOTS", err)
	}
	var pe *ots.ParseError
	if _, err := ots.ParseTimestamp([]byte{0xf0, 0x00}, nil); !errors.As(err, &pe) || pe.Offset != 1 {
		t.Errorf("an empty append: %v, want a ParseError at byte 1", err)
	}
	if _, err := ots.ParseTimestamp(append(bitcoinAt(1), 0), nil); err == nil {
		t.Error("trailing data: no error")
	}
	if _, err := ots.ParseFile(make([]byte, ots.MaxSize+1)); err == nil {
		t.Error("an oversized file: no error")
	}
	// Integers: the largest one, one bit more, and a non-minimal one.
	if _, err := ots.ParseTimestamp(attestation(ots.BitcoinTag, unhex(t, "ffffffffffffffffff01")), nil); err != nil {
		t.Errorf("height 2^64-1: %v", err)
	}
	for _, payload := range []string{"ffffffffffffffffff02", "ffffffffffffffffff8101", "8000"} {
		if _, err := ots.ParseTimestamp(attestation(ots.BitcoinTag, unhex(t, payload)), nil); err == nil {
			t.Errorf("height %s: no error", payload)
		}
	}
}

func bitcoinAt(h uint64) []byte { return bitcoin(h) }

func TestCheckURI(t *testing.T) {
	for uri, ok := range map[string]bool{
		"https://alice.btc.calendar.opentimestamps.org": true,
		"http://127.0.0.1:8080":                         true,
		"https://notary.example/ots/":                   true,
		"":                                              true,
		"https://user@host":                             false,
		"https://host/?q=1":                             false,
		"http://[::1]:8080":                             false,
		"https://host/%20":                              false,
		strings.Repeat("a", ots.MaxURILen+1):            false,
	} {
		if err := ots.CheckURI(uri); (err == nil) != ok {
			t.Errorf("CheckURI(%q) = %v", uri, err)
		}
	}
}

// TestImports holds the package to the standard library, golang.org/x/crypto (for the hash
// operations the standard library lacks) and package merkle, so that third parties can
// verify .ots files without the rest of notary.
func TestImports(t *testing.T) {
	fset := token.NewFileSet()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(strings.Split(p, "/")[0], ".") && p != "github.com/notary-dev/notary/merkle" && !strings.HasPrefix(p, "golang.org/x/crypto/") {
				t.Errorf("%s imports %s", path, p)
			}
		}
	}
}
