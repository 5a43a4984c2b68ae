package merkle

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
)

// benchLogs holds one in-memory log per size, built once per test binary.
var benchLogs sync.Map // int64 → func() memLog

// benchLog returns the log of size leaves, building it on first use.
func benchLog(b *testing.B, size int64) memLog {
	f, _ := benchLogs.LoadOrStore(size, sync.OnceValue(func() memLog {
		log := make(memLog, 0, StoredHashCount(size))
		var entry [8]byte
		for n := range size {
			binary.BigEndian.PutUint64(entry[:], uint64(n))
			hs, err := StoredHashes(n, LeafHash(entry[:]), log)
			if err != nil {
				panic(err)
			}
			log = append(log, hs...)
		}
		return log
	}))
	return f.(func() memLog)()
}

var benchSizes = []int64{1e4, 1e6}

func BenchmarkInclusionProof(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			log := benchLog(b, size)
			b.ResetTimer()
			i := int64(0)
			for b.Loop() {
				if _, err := InclusionProof(i%size, size, log); err != nil {
					b.Fatal(err)
				}
				i += 7919
			}
		})
	}
}

func BenchmarkConsistencyProof(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			log := benchLog(b, size)
			b.ResetTimer()
			i := int64(0)
			for b.Loop() {
				if _, err := ConsistencyProof(1+i%(size-1), size, log); err != nil {
					b.Fatal(err)
				}
				i += 7919
			}
		})
	}
}

func BenchmarkVerifyInclusion(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			log := benchLog(b, size)
			index := size / 3
			root, err := TreeHash(size, log)
			if err != nil {
				b.Fatal(err)
			}
			proof, err := InclusionProof(index, size, log)
			if err != nil {
				b.Fatal(err)
			}
			leaf := log[StoredHashIndex(0, index)]
			b.ResetTimer()
			for b.Loop() {
				if err := VerifyInclusion(index, size, leaf, root, proof); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkTreeHash(b *testing.B) {
	log := benchLog(b, 1e6)
	b.ResetTimer()
	for b.Loop() {
		if _, err := TreeHash(1e6-1, log); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoredHashes appends b.N leaves to an in-memory log.
func BenchmarkStoredHashes(b *testing.B) {
	log := make(memLog, 0, 1024)
	leaf := LeafHash([]byte("entry"))
	n := int64(0)
	for b.Loop() {
		hs, err := StoredHashes(n, leaf, log)
		if err != nil {
			b.Fatal(err)
		}
		log = append(log, hs...)
		n++
	}
}
