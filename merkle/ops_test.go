package merkle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestOpString(t *testing.T) {
	tests := []struct {
		op   Op
		want string
	}{
		{Op{Code: OpSHA256}, "sha256"},
		{Op{Code: OpAppend, Arg: []byte{0x0a, 0x1b}}, "append 0a1b"},
		{Op{Code: OpPrepend, Arg: []byte{0x01}}, "prepend 01"},
		{Op{Code: 0x42}, "op 0x42"},
		{Op{Code: 0x42, Arg: []byte{0xff}}, "op 0x42 ff"},
		{Op{Code: OpSHA256, Arg: []byte{0x00}}, "sha256 00"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.op.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	sum := func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
	big := bytes.Repeat([]byte{'x'}, MaxMessageLen)
	tests := []struct {
		name    string
		msg     []byte
		ops     []Op
		want    []byte
		wantErr string
	}{
		{name: "no ops", msg: []byte("abc"), want: []byte("abc")},
		{name: "no ops on empty message", msg: nil, want: []byte{}},
		{name: "sha256", msg: []byte("abc"), ops: []Op{{Code: OpSHA256}}, want: sum([]byte("abc"))},
		{name: "append", msg: []byte("abc"), ops: []Op{{Code: OpAppend, Arg: []byte("de")}}, want: []byte("abcde")},
		{name: "prepend", msg: []byte("abc"), ops: []Op{{Code: OpPrepend, Arg: []byte("de")}}, want: []byte("deabc")},
		{
			name: "leaf and node hash",
			msg:  []byte("entry"),
			ops:  []Op{{Code: OpPrepend, Arg: []byte{0}}, {Code: OpSHA256}},
			want: func() []byte { h := LeafHash([]byte("entry")); return h[:] }(),
		},
		{name: "result at the cap", msg: big[:MaxMessageLen-1], ops: []Op{{Code: OpAppend, Arg: []byte{1}}}, want: append(bytes.Clone(big[:MaxMessageLen-1]), 1)},
		{name: "message at the cap", msg: big, ops: []Op{{Code: OpSHA256}}, want: sum(big)},
		{name: "message over the cap", msg: append(bytes.Clone(big), 1), wantErr: "exceeds"},
		{name: "append over the cap", msg: big, ops: []Op{{Code: OpAppend, Arg: []byte{1}}}, wantErr: "exceeds"},
		{name: "prepend over the cap", msg: []byte{1}, ops: []Op{{Code: OpPrepend, Arg: big}}, wantErr: "exceeds"},
		{name: "unknown op code", msg: []byte("abc"), ops: []Op{{Code: OpSHA256}, {Code: 0x02}}, wantErr: "op 1: unknown op code 0x02"},
		{name: "sha256 with an argument", msg: []byte("abc"), ops: []Op{{Code: OpSHA256, Arg: []byte{1}}}, wantErr: "takes no argument"},
		{name: "append without argument", msg: []byte("abc"), ops: []Op{{Code: OpAppend}}, wantErr: "needs an argument"},
		{name: "prepend without argument", msg: []byte("abc"), ops: []Op{{Code: OpPrepend, Arg: []byte{}}}, wantErr: "needs an argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Evaluate(tt.msg, tt.ops)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "merkle: ") {
					t.Errorf("Evaluate = %x, %v, want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) || got == nil {
				t.Errorf("Evaluate = %x, %v, want %x", got, err, tt.want)
			}
		})
	}
}

func TestEvaluateDoesNotAlias(t *testing.T) {
	msg := make([]byte, 3, 64)
	arg := []byte{1, 2}
	for _, ops := range [][]Op{nil, {{Code: OpAppend, Arg: arg}}, {{Code: OpPrepend, Arg: arg}}} {
		got, err := Evaluate(msg, ops)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			got[i] = 0xee
		}
		if !bytes.Equal(msg, []byte{0, 0, 0}) || !bytes.Equal(msg[:4], []byte{0, 0, 0, 0}) || !bytes.Equal(arg, []byte{1, 2}) {
			t.Errorf("ops %v: the result shares memory with the input", ops)
		}
	}
}

func TestInclusionOpsShape(t *testing.T) {
	// Leaf 2 of 4: its sibling (leaf 3) is on the right, then (leaves 0 and 1) on the left.
	leaves := testLeaves(4)
	proof := refPath(2, leaves)
	ops, err := InclusionOps(2, 4, proof)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"append " + proof[0].String(),
		"prepend 01",
		"sha256",
		"prepend 01" + proof[1].String(),
		"sha256",
	}
	if len(ops) != len(want) {
		t.Fatalf("InclusionOps(2, 4) = %v, want %v", ops, want)
	}
	for i := range ops {
		if ops[i].String() != want[i] {
			t.Errorf("op %d = %v, want %v", i, ops[i], want[i])
		}
	}
	proof[0][0] ^= 1
	if hex.EncodeToString(ops[0].Arg) == proof[0].String() {
		t.Error("the ops share memory with the proof")
	}
}

func TestInclusionOpsMalformed(t *testing.T) {
	tests := []struct {
		name        string
		index, size int64
		proof       []Hash
	}{
		{"index out of range", 4, 4, make([]Hash, 2)},
		{"negative index", -1, 4, make([]Hash, 2)},
		{"proof too short", 0, 4, make([]Hash, 1)},
		{"proof too long", 3, 4, make([]Hash, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ops, err := InclusionOps(tt.index, tt.size, tt.proof); err == nil {
				t.Errorf("InclusionOps = %v, want an error", ops)
			}
		})
	}
}
