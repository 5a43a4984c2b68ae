package ots_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/ots"
)

// wideNode returns the tree bytes of one node with n Bitcoin attestations, at heights 0 to
// n-1 (in the order the reference writes them), each 13 or 14 bytes.
func wideNode(n int) []byte {
	var b []byte
	for h := range n {
		if h < n-1 {
			b = append(b, 0xff)
		}
		b = append(b, bitcoin(uint64(h))...)
	}
	return b
}

// wideBranches returns the tree bytes of one node with n append branches, each with its
// own two-byte argument and a Bitcoin attestation.
func wideBranches(n int) []byte {
	var b []byte
	for i := range n {
		if i < n-1 {
			b = append(b, 0xff)
		}
		b = append(b, 0xf0, 2, byte(i>>8), byte(i))
		b = append(b, bitcoin(1)...)
	}
	return b
}

// FuzzParseWork checks that the parser's duplicate checks (an entry may not appear twice
// in a node) cost at most one look-up of each input byte, whatever the input: they are
// what made a 1 MiB file of 74,000 attestations on one node take 25 s, comparing every
// pair. The count is of operations, not time, so it holds on any machine.
func FuzzParseWork(f *testing.F) {
	seedFiles(f, func(data []byte) { f.Add(data) })
	for _, tree := range [][]byte{wideNode(200), wideBranches(200), append(wideNode(50), append([]byte{0xff}, bitcoin(7)...)...)} {
		f.Add(file(tree))
		f.Add(tree)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, checked, err := ots.ParseFileChecked(data)
		if checked > len(data) {
			t.Fatalf("as a file: duplicate checks looked up %d bytes of %d (err %v)", checked, len(data), err)
		}
		_, checked, err = ots.ParseTimestampChecked(data, goldenDigest[:])
		if checked > len(data) {
			t.Fatalf("as a calendar's answer: duplicate checks looked up %d bytes of %d (err %v)", checked, len(data), err)
		}
	})
}

// TestWideNode parses, as a file and as a calendar's answer, a node of 74,000
// attestations, about as many as a file of MaxSize holds. Comparing every pair would take
// 74,000·73,999/2 ≈ 2.7·10⁹ comparisons; the checks look up each entry once.
func TestWideNode(t *testing.T) {
	const n = 74_000
	tree := wideNode(n)
	data := file(tree)
	if len(data) > ots.MaxSize {
		t.Fatalf("the file has %d bytes, more than MaxSize", len(data))
	}
	f, checked, err := ots.ParseFileChecked(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(f.Timestamp.Attestations); got != n {
		t.Fatalf("%d attestations, want %d", got, n)
	}
	if pairs := n * (n - 1) / 2; checked > len(data) || pairs < 1000*checked {
		t.Errorf("duplicate checks looked up %d bytes of %d; comparing pairs would be %d comparisons", checked, len(data), pairs)
	}
	out, err := f.MarshalBinary()
	if err != nil || !bytes.Equal(out, data) {
		t.Errorf("does not marshal back to the same bytes (%v)", err)
	}

	// A calendar's answer of the same: parsed, then merged into a pending timestamp.
	answer, checked, err := ots.ParseTimestampChecked(tree, goldenDigest[:])
	if err != nil || checked > len(tree) {
		t.Fatalf("as a calendar's answer: %v, %d bytes of %d looked up", err, checked, len(tree))
	}
	pending, err := ots.NewTimestamp(goldenDigest[:], nil, ots.Pending{URI: goldenURI})
	if err != nil {
		t.Fatal(err)
	}
	if err := pending.Merge(answer); err != nil {
		t.Fatal(err)
	}
	if err := pending.Merge(answer); err != nil {
		t.Fatal(err)
	}
	if got := len(pending.Attestations); got != n+1 {
		t.Errorf("merged twice: %d attestations, want %d", got, n+1)
	}

	// A repeat at the very end of the node is still found, where it is.
	dup := file(tree[:len(tree)-len(bitcoin(n-1))], bitcoin(5))
	var pe *ots.ParseError
	if _, err := ots.ParseFile(dup); !errors.As(err, &pe) || pe.Offset != len(dup)-len(bitcoin(5))+1 {
		t.Errorf("a repeated attestation at the end: %v, want a ParseError at byte %d", err, len(dup)-len(bitcoin(5))+1)
	}
}

// TestWideBranches does the same for a node of many branches, and finds a repeated one.
func TestWideBranches(t *testing.T) {
	const n = 20_000
	tree := wideBranches(n)
	data := file(tree)
	f, checked, err := ots.ParseFileChecked(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(f.Timestamp.Branches); got != n || checked > len(data) {
		t.Errorf("%d branches (want %d), %d bytes looked up of %d", got, n, checked, len(data))
	}
	last := len(tree) - len(bitcoin(1)) - 4
	again := append(append([]byte(nil), tree[:last]...), 0xf0, 2, 0, 7)
	again = append(again, bitcoin(1)...)
	var pe *ots.ParseError
	if _, err := ots.ParseFile(file(again)); !errors.As(err, &pe) || pe.Offset != len(ots.Magic)+2+len(goldenDigest)+last {
		t.Errorf("a repeated branch at the end: %v, want a ParseError at byte %d", err, len(ots.Magic)+2+len(goldenDigest)+last)
	}
}

// TestMergeLarge merges, into a timestamp with branches, an answer with many: the branches
// met again are merged into the ones there, the others added.
func TestMergeLarge(t *testing.T) {
	msg := sha256.Sum256([]byte("merge"))
	build := func(from, to int, height uint64) *ots.Timestamp {
		root := &ots.Timestamp{Msg: msg[:]}
		for i := from; i < to; i++ {
			op := merkle.Op{Code: ots.OpAppend, Arg: []byte{byte(i >> 8), byte(i)}}
			res, err := ots.Apply(op, root.Msg)
			if err != nil {
				t.Fatal(err)
			}
			root.Branches = append(root.Branches, ots.Branch{Op: op, Result: &ots.Timestamp{Msg: res, Attestations: []ots.Attestation{ots.Bitcoin{Height: height}}}})
		}
		return root
	}
	t0 := build(0, 10_000, 1)
	if err := t0.Merge(build(5_000, 15_000, 2)); err != nil {
		t.Fatal(err)
	}
	if len(t0.Branches) != 15_000 {
		t.Fatalf("%d branches, want 15000", len(t0.Branches))
	}
	for i, b := range t0.Branches {
		want := 1
		if i >= 5_000 && i < 10_000 {
			want = 2
		}
		if len(b.Result.Attestations) != want {
			t.Fatalf("branch %d has %d attestations, want %d", i, len(b.Result.Attestations), want)
		}
	}
}
