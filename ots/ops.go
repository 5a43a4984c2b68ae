package ots

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"

	"golang.org/x/crypto/ripemd160" //nolint:staticcheck // deprecated, but OpenTimestamps files use it
	"golang.org/x/crypto/sha3"

	"github.com/notary-dev/notary/merkle"
)

// The operations of the format. SHA-256, append and prepend are the ones notary's proofs
// use (and the values of [merkle.OpSHA256], [merkle.OpAppend] and [merkle.OpPrepend]); the
// others appear in older or foreign proofs.
const (
	OpSHA1      merkle.OpCode = 0x02 // replace the message by its SHA-1
	OpRIPEMD160 merkle.OpCode = 0x03 // replace the message by its RIPEMD-160
	OpSHA256                  = merkle.OpSHA256
	OpKeccak256 merkle.OpCode = 0x67 // replace the message by its Keccak-256 (as Ethereum uses it)
	OpAppend                  = merkle.OpAppend
	OpPrepend                 = merkle.OpPrepend
	OpReverse   merkle.OpCode = 0xf2 // reverse the message's bytes
	OpHexlify   merkle.OpCode = 0xf3 // replace the message by its lower-case hex
)

// MaxMsgLen is the longest message, operation argument or operation result, in bytes.
const MaxMsgLen = 4096

// maxHexlifyLen is the longest message hexlify takes: its result must fit MaxMsgLen.
const maxHexlifyLen = MaxMsgLen / 2

// OpName returns the name the reference implementation gives op code c ("sha256",
// "append", …), or "" if c is not an operation.
func OpName(c merkle.OpCode) string {
	switch c {
	case OpSHA1:
		return "sha1"
	case OpRIPEMD160:
		return "ripemd160"
	case OpSHA256:
		return "sha256"
	case OpKeccak256:
		return "keccak256"
	case OpAppend:
		return "append"
	case OpPrepend:
		return "prepend"
	case OpReverse:
		return "reverse"
	case OpHexlify:
		return "hexlify"
	}
	return ""
}

// takesArg reports whether operations with code c have an argument.
func takesArg(c merkle.OpCode) bool { return c == OpAppend || c == OpPrepend }

// DigestLen returns the length of the digests of hash operation c, or 0 if c is not a
// hash operation. The hash operations are the ones a file may be hashed with.
func DigestLen(c merkle.OpCode) int {
	switch c {
	case OpSHA1, OpRIPEMD160:
		return 20
	case OpSHA256, OpKeccak256:
		return 32
	}
	return 0
}

// NewHash returns a hash.Hash computing hash operation c, for hashing a whole file; it
// returns an error if c is not a hash operation.
func NewHash(c merkle.OpCode) (hash.Hash, error) {
	switch c {
	case OpSHA1:
		return sha1.New(), nil
	case OpRIPEMD160:
		return ripemd160.New(), nil
	case OpSHA256:
		return sha256.New(), nil
	case OpKeccak256:
		return sha3.NewLegacyKeccak256(), nil
	}
	return nil, fmt.Errorf("ots: op code 0x%02x is not a hash operation", byte(c))
}

// opString returns op as the reference prints it: "sha256", "append 0a1b…".
func opString(op merkle.Op) string {
	name := OpName(op.Code)
	if name == "" {
		name = fmt.Sprintf("op 0x%02x", byte(op.Code))
	}
	if len(op.Arg) == 0 {
		return name
	}
	return name + " " + hex.EncodeToString(op.Arg)
}

// checkOp returns an error unless op is a known operation with a valid argument: 1 to
// MaxMsgLen bytes for append and prepend, none for the others.
func checkOp(op merkle.Op) error {
	if OpName(op.Code) == "" {
		return fmt.Errorf("unknown operation 0x%02x", byte(op.Code))
	}
	if takesArg(op.Code) {
		if len(op.Arg) == 0 || len(op.Arg) > MaxMsgLen {
			return fmt.Errorf("%s argument of %d bytes, want 1 to %d", OpName(op.Code), len(op.Arg), MaxMsgLen)
		}
	} else if len(op.Arg) != 0 {
		return fmt.Errorf("%s takes no argument", OpName(op.Code))
	}
	return nil
}

// Apply returns the result of op on msg. It returns an error, as the reference does, for an
// unknown operation or a bad argument, a message longer than MaxMsgLen, a result that would
// be longer, and reverse or hexlify of an empty message. The result shares no memory with
// msg or the argument.
func Apply(op merkle.Op, msg []byte) ([]byte, error) {
	if err := checkOp(op); err != nil {
		return nil, fmt.Errorf("ots: %v", err)
	}
	if len(msg) > MaxMsgLen {
		return nil, fmt.Errorf("ots: %s of a %d-byte message: longer than %d", OpName(op.Code), len(msg), MaxMsgLen)
	}
	switch op.Code {
	case OpAppend, OpPrepend:
		if n := len(msg) + len(op.Arg); n > MaxMsgLen {
			return nil, fmt.Errorf("ots: %s gives %d bytes, more than %d", OpName(op.Code), n, MaxMsgLen)
		}
		out := make([]byte, 0, len(msg)+len(op.Arg))
		if op.Code == OpAppend {
			return append(append(out, msg...), op.Arg...), nil
		}
		return append(append(out, op.Arg...), msg...), nil
	case OpReverse:
		if len(msg) == 0 {
			return nil, fmt.Errorf("ots: reverse of an empty message")
		}
		out := make([]byte, len(msg))
		for i, b := range msg {
			out[len(msg)-1-i] = b
		}
		return out, nil
	case OpHexlify:
		if len(msg) == 0 {
			return nil, fmt.Errorf("ots: hexlify of an empty message")
		}
		if len(msg) > maxHexlifyLen {
			return nil, fmt.Errorf("ots: hexlify of a %d-byte message: longer than %d", len(msg), maxHexlifyLen)
		}
		return []byte(hex.EncodeToString(msg)), nil
	}
	h, _ := NewHash(op.Code)
	h.Write(msg)
	return h.Sum(nil), nil
}
