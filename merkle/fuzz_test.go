package merkle

import (
	"bytes"
	"crypto/sha256"
	"testing"
)

// fuzzHash makes a Hash of b: zero-padded or truncated to 32 bytes.
func fuzzHash(b []byte) Hash {
	var h Hash
	copy(h[:], b)
	return h
}

// fuzzHashes splits b into hashes, dropping a partial last one; at most 70.
func fuzzHashes(b []byte) []Hash {
	var hs []Hash
	for len(b) >= HashSize && len(hs) < 70 {
		hs = append(hs, Hash(b[:HashSize]))
		b = b[HashSize:]
	}
	return hs
}

func joinHashes(hs []Hash) []byte {
	var b []byte
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

func FuzzVerifyInclusion(f *testing.F) {
	leaves := testLeaves(20)
	for _, c := range []struct{ i, n int64 }{{0, 1}, {0, 2}, {3, 7}, {6, 7}, {5, 8}, {12, 13}, {0, 20}, {19, 20}} {
		root := refRoot(leaves[:c.n])
		f.Add(c.i, c.n, leaves[c.i][:], root[:], joinHashes(refPath(c.i, leaves[:c.n])))
	}
	f.Add(int64(-1), int64(1<<62), []byte{}, []byte{}, []byte{})
	f.Add(int64(0), int64(1<<63-1), []byte{}, []byte{}, make([]byte, 63*HashSize))
	f.Fuzz(func(t *testing.T, index, size int64, leafB, rootB, proofB []byte) {
		leaf, root, proof := fuzzHash(leafB), fuzzHash(rootB), fuzzHashes(proofB)
		err := VerifyInclusion(index, size, leaf, root, proof)
		want := refInclusionVerdict(index, size, leaf, root, proof)
		if got := verdict(err); got != want {
			t.Fatalf("VerifyInclusion(%d, %d, %v, %v, %v) = %v (%s), reference says %s", index, size, leaf, root, proof, err, got, want)
		}
		ops, opsErr := InclusionOps(index, size, proof)
		if (opsErr != nil) != (want == "malformed") {
			t.Fatalf("InclusionOps(%d, %d, %d hashes) = %v, verdict %s", index, size, len(proof), opsErr, want)
		}
		if opsErr == nil {
			got, err := Evaluate(leaf[:], ops)
			if err != nil {
				t.Fatalf("Evaluate(InclusionOps): %v", err)
			}
			if bytes.Equal(got, root[:]) != (want == "valid") {
				t.Fatalf("Evaluate(InclusionOps) = %x, root %v, verdict %s", got, root, want)
			}
		}
	})
}

func FuzzVerifyConsistency(f *testing.F) {
	leaves := testLeaves(20)
	for _, c := range []struct{ m, n int64 }{{0, 5}, {4, 4}, {1, 2}, {1, 8}, {4, 8}, {3, 7}, {7, 8}, {5, 13}, {6, 20}, {19, 20}} {
		var proof []Hash
		if c.m > 0 {
			proof = refProof(c.m, leaves[:c.n])
		}
		oldRoot, newRoot := refRoot(leaves[:c.m]), refRoot(leaves[:c.n])
		f.Add(c.m, c.n, oldRoot[:], newRoot[:], joinHashes(proof))
	}
	f.Add(int64(1), int64(1<<63-1), []byte{}, []byte{}, make([]byte, 63*HashSize))
	f.Fuzz(func(t *testing.T, oldSize, newSize int64, oldB, newB, proofB []byte) {
		oldRoot, newRoot, proof := fuzzHash(oldB), fuzzHash(newB), fuzzHashes(proofB)
		err := VerifyConsistency(oldSize, newSize, oldRoot, newRoot, proof)
		want := refConsistencyVerdict(oldSize, newSize, oldRoot, newRoot, proof)
		if got := verdict(err); got != want {
			t.Fatalf("VerifyConsistency(%d, %d, %v, %v, %v) = %v (%s), reference says %s", oldSize, newSize, oldRoot, newRoot, proof, err, got, want)
		}
	})
}

// decodeOps reads an operation list from b: op code, argument length, argument.
func decodeOps(b []byte) []Op {
	var ops []Op
	for len(b) >= 2 {
		code, n := OpCode(b[0]), int(b[1])
		b = b[2:]
		n = min(n, len(b))
		var arg []byte
		if n > 0 {
			arg = b[:n]
		}
		ops = append(ops, Op{Code: code, Arg: arg})
		b = b[n:]
	}
	return ops
}

// refEvaluate evaluates ops from msg by the rules of Evaluate.
func refEvaluate(msg []byte, ops []Op) ([]byte, bool) {
	if len(msg) > MaxMessageLen {
		return nil, false
	}
	cur := string(msg)
	for _, op := range ops {
		arg := string(op.Arg)
		switch {
		case op.Code == OpSHA256 && arg == "":
			sum := sha256.Sum256([]byte(cur))
			cur = string(sum[:])
		case op.Code == OpAppend && arg != "":
			cur += arg
		case op.Code == OpPrepend && arg != "":
			cur = arg + cur
		default:
			return nil, false
		}
		if len(cur) > MaxMessageLen {
			return nil, false
		}
	}
	return []byte(cur), true
}

func FuzzEvaluate(f *testing.F) {
	f.Add([]byte("abc"), []byte{0x08, 0})
	f.Add([]byte{}, []byte{0xf0, 2, 1, 2, 0xf1, 1, 9, 0x08, 0})
	f.Add([]byte("x"), []byte{0x08, 1, 0})
	f.Add([]byte("x"), []byte{0x42, 0})
	f.Add([]byte("x"), []byte{0xf0, 0})
	f.Add(bytes.Repeat([]byte{7}, MaxMessageLen), []byte{0xf1, 1, 1})
	f.Fuzz(func(t *testing.T, msg, prog []byte) {
		ops := decodeOps(prog)
		msgCopy, progCopy := bytes.Clone(msg), bytes.Clone(prog)
		got, err := Evaluate(msg, ops)
		want, ok := refEvaluate(msg, ops)
		if (err == nil) != ok || ok && !bytes.Equal(got, want) {
			t.Fatalf("Evaluate(%x, %v) = %x, %v; reference gives %x, %v", msg, ops, got, err, want, ok)
		}
		if len(got) > MaxMessageLen {
			t.Fatalf("result of %d bytes", len(got))
		}
		for i := range got {
			got[i] ^= 0xff
		}
		if !bytes.Equal(msg, msgCopy) || !bytes.Equal(prog, progCopy) {
			t.Fatal("Evaluate modified its input, or its result shares memory with it")
		}
	})
}
