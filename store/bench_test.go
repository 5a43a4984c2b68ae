package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// fakeBatch returns n entries from index first with the right number of hashes for them.
// The hashes are not a real tree's: the store does not look at them.
func fakeBatch(first int64, n int) ([]notary.Entry, []merkle.Hash) {
	entries := make([]notary.Entry, n)
	t := time.UnixMilli(1_700_000_000_000).UTC()
	for k := range entries {
		i := first + int64(k)
		e := &entries[k]
		e.Index = i
		binary.BigEndian.PutUint64(e.Digest[:], uint64(i)*0x9e3779b97f4a7c15)
		binary.BigEndian.PutUint64(e.Digest[24:], uint64(i))
		e.Time = t.Add(time.Duration(i) * time.Millisecond)
		binary.BigEndian.PutUint64(e.Nonce[:], ^uint64(i))
	}
	start := merkle.StoredHashCount(first)
	hashes := make([]merkle.Hash, merkle.StoredHashCount(first+int64(n))-start)
	for k := range hashes {
		binary.BigEndian.PutUint64(hashes[k][:], uint64(start)+uint64(k))
		hashes[k][31] = 0xaa
	}
	return entries, hashes
}

func BenchmarkAppendEntries(b *testing.B) {
	for _, batch := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			db, err := Open(filepath.Join(b.TempDir(), "notary.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			// Prepare the batches outside the timer; keep memory bounded by reusing a ring.
			const ring = 64
			var next int64
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if i%ring == 0 {
					b.StopTimer()
				}
				entries, hashes := fakeBatch(next, batch)
				if i%ring == 0 {
					b.StartTimer()
				}
				if err := db.AppendEntries(ctx, entries, hashes); err != nil {
					b.Fatal(err)
				}
				next += int64(batch)
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(next)/elapsed.Seconds(), "entries/s")
		})
	}
}

// bigStore is a store of bigStoreSize entries shared by the read benchmarks, built once.
const bigStoreSize = 1_000_000

var bigStore struct {
	once sync.Once
	dir  string
	db   *DB
	err  error
}

func openBigStore(b *testing.B) *DB {
	b.Helper()
	bigStore.once.Do(func() {
		bigStore.dir, bigStore.err = os.MkdirTemp("", "notary-store-bench-")
		if bigStore.err != nil {
			return
		}
		db, err := Open(filepath.Join(bigStore.dir, "notary.db"))
		if err != nil {
			bigStore.err = err
			return
		}
		const batch = 50_000
		for first := int64(0); first < bigStoreSize; first += batch {
			entries, hashes := fakeBatch(first, batch)
			if err := db.AppendEntries(context.Background(), entries, hashes); err != nil {
				bigStore.err = err
				db.Close()
				return
			}
		}
		bigStore.db = db
	})
	if bigStore.err != nil {
		b.Fatal(bigStore.err)
	}
	return bigStore.db
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bigStore.db != nil {
		bigStore.db.Close()
	}
	if bigStore.dir != "" {
		os.RemoveAll(bigStore.dir)
	}
	os.Exit(code)
}

// proofIndexes returns the storage indexes an inclusion proof of leaf index in a tree of
// size reads, as merkle asks for them.
func proofIndexes(b *testing.B, index, size int64) []int64 {
	var got []int64
	r := merkle.HashReaderFunc(func(indexes []int64) ([]merkle.Hash, error) {
		got = append(got, indexes...)
		return make([]merkle.Hash, len(indexes)), nil
	})
	if _, err := merkle.InclusionProof(index, size, r); err != nil {
		b.Fatal(err)
	}
	return got
}

func BenchmarkReadHashes(b *testing.B) {
	db := openBigStore(b)
	rng := rand.New(rand.NewPCG(1, 2))
	const sets = 256
	var indexes [sets][]int64
	total := 0
	for k := range indexes {
		indexes[k] = proofIndexes(b, rng.Int64N(bigStoreSize), bigStoreSize)
		total += len(indexes[k])
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := db.ReadHashes(b.Context(), indexes[i%sets]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total)/sets, "indexes/op")
}

func BenchmarkEntry(b *testing.B) {
	db := openBigStore(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := db.Entry(ctx, rng.Int64N(bigStoreSize)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanEntries(b *testing.B) {
	db := openBigStore(b)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	var n int64
	for i := 0; i < b.N; i++ {
		if err := db.ScanEntries(ctx, 0, func(notary.Entry) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "entries/s")
}

// BenchmarkIndexDigests measures IndexDigests: each iteration appends a chunk of 4096
// entries (not timed) and indexes their digests.
func BenchmarkIndexDigests(b *testing.B) {
	ctx := context.Background()
	db, err := Open(filepath.Join(b.TempDir(), "notary.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const chunk = 1 << 12
	var size int64
	var indexing time.Duration
	cpu0 := cpuTime()
	for b.Loop() {
		entries, hashes := fakeBatch(size, chunk)
		if err := db.AppendEntries(ctx, entries, hashes); err != nil {
			b.Fatal(err)
		}
		size += chunk
		start := time.Now()
		if err := db.IndexDigests(ctx, size); err != nil {
			b.Fatal(err)
		}
		indexing += time.Since(start)
	}
	// The process's CPU time per digest, appending and indexing, compactions included:
	// unlike the rate it hardly moves when the machine is busy.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(size)/1e3, "cpu-µs/digest")
	b.ReportMetric(float64(size)/indexing.Seconds(), "digests/s")
}

// BenchmarkLookupDigests measures LookupDigests of one digest or of many, half of them
// logged, in an index of 1<<18 entries.
func BenchmarkLookupDigests(b *testing.B) {
	ctx := context.Background()
	db, err := Open(filepath.Join(b.TempDir(), "notary.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const size, chunk = 1 << 18, 1 << 12
	for first := int64(0); first < size; first += chunk {
		entries, hashes := fakeBatch(first, chunk)
		if err := db.AppendEntries(ctx, entries, hashes); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.IndexDigests(ctx, size); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 32, 1024} {
		b.Run(fmt.Sprintf("digests=%d", n), func(b *testing.B) {
			ds := make([]notary.Digest, n)
			for k := range ds {
				entries, _ := fakeBatch(int64(k*2), 1) // even: logged; odd: not
				ds[k] = entries[0].Digest
				ds[k][31] ^= byte(k % 2)
			}
			out := make([]int64, n)
			for b.Loop() {
				if err := db.LookupDigests(ctx, ds, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n)/1e3, "µs/digest")
		})
	}
}
