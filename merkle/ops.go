package merkle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/bits"
)

// OpCode identifies an operation of an operation list. The values are the
// OpenTimestamps op codes, so an operation list serializes directly into an
// .ots file.
type OpCode byte

// The operations of an operation list.
const (
	OpSHA256  OpCode = 0x08 // replace the message by its SHA-256
	OpAppend  OpCode = 0xf0 // append the argument to the message
	OpPrepend OpCode = 0xf1 // prepend the argument to the message
)

// MaxMessageLen is the largest message, argument or intermediate result
// [Evaluate] accepts, in bytes (as in OpenTimestamps).
const MaxMessageLen = 4096

// String returns the name of c: "sha256", "append", "prepend", or its value
// in hex for an unknown op code.
func (c OpCode) String() string {
	switch c {
	case OpSHA256:
		return "sha256"
	case OpAppend:
		return "append"
	case OpPrepend:
		return "prepend"
	}
	return fmt.Sprintf("op 0x%02x", byte(c))
}

// An Op is one operation of an operation list. Arg is the argument of append
// and prepend, and must be empty for sha256.
type Op struct {
	Code OpCode
	Arg  []byte
}

// String returns op as its name followed, if it has an argument, by the
// argument in hex: "sha256", "append 0a1b…".
func (op Op) String() string {
	if len(op.Arg) == 0 {
		return op.Code.String()
	}
	return op.Code.String() + " " + hex.EncodeToString(op.Arg)
}

// Evaluate applies ops to msg in order and returns the result, the value that
// msg commits to through ops. It returns an error for an unknown op code, an
// append or prepend without an argument, a sha256 with one, and for msg or any
// intermediate result longer than [MaxMessageLen] bytes. It modifies neither
// msg nor the arguments; the result shares no memory with them.
func Evaluate(msg []byte, ops []Op) ([]byte, error) {
	if len(msg) > MaxMessageLen {
		return nil, fmt.Errorf("merkle: message of %d bytes exceeds %d", len(msg), MaxMessageLen)
	}
	out := append([]byte{}, msg...)
	for i, op := range ops {
		switch op.Code {
		case OpSHA256:
			if len(op.Arg) != 0 {
				return nil, fmt.Errorf("merkle: op %d: sha256 takes no argument", i)
			}
			sum := sha256.Sum256(out)
			out = sum[:]
		case OpAppend, OpPrepend:
			if len(op.Arg) == 0 {
				return nil, fmt.Errorf("merkle: op %d: %v needs an argument", i, op.Code)
			}
			if n := len(out) + len(op.Arg); n > MaxMessageLen {
				return nil, fmt.Errorf("merkle: op %d: result of %d bytes exceeds %d", i, n, MaxMessageLen)
			}
			if op.Code == OpAppend {
				out = append(out, op.Arg...)
			} else {
				out = append(append(make([]byte, 0, len(op.Arg)+len(out)), op.Arg...), out...)
			}
		default:
			return nil, fmt.Errorf("merkle: op %d: unknown op code 0x%02x", i, byte(op.Code))
		}
	}
	return out, nil
}

// InclusionOps returns the operations that take the RFC 6962 hash of leaf
// index to the root of the tree of size leaves, given the leaf's inclusion
// proof (see [InclusionProof]). For each sibling, bottom-up, they are
// [prepend 0x01‖sibling, sha256] for a sibling on the left and
// [append sibling, prepend 0x01, sha256] for one on the right.
//
// Evaluating the operations from the leaf hash gives the root for which
// [VerifyInclusion] accepts the proof. InclusionOps checks only the proof's
// shape: it returns an error, as VerifyInclusion does, if index is not in
// [0, size) or the proof has the wrong length.
func InclusionOps(index, size int64, proof []Hash) ([]Op, error) {
	if index < 0 || index >= size {
		return nil, fmt.Errorf("merkle: leaf index %d out of range for tree size %d", index, size)
	}
	if want := pathLen(index, size, 0); len(proof) != want {
		return nil, fmt.Errorf("merkle: inclusion proof of leaf %d in tree size %d has %d hashes, want %d", index, size, len(proof), want)
	}
	inner := bits.Len64(uint64(index ^ (size - 1)))
	ops := make([]Op, 0, 3*len(proof))
	level := 0
	for _, p := range proof {
		for level >= inner && (index>>level)&1 == 0 {
			level++
		}
		if (index>>level)&1 == 1 {
			ops = append(ops,
				Op{Code: OpPrepend, Arg: append([]byte{0x01}, p[:]...)},
				Op{Code: OpSHA256})
		} else {
			ops = append(ops,
				Op{Code: OpAppend, Arg: append([]byte{}, p[:]...)},
				Op{Code: OpPrepend, Arg: []byte{0x01}},
				Op{Code: OpSHA256})
		}
		level++
	}
	return ops, nil
}
