package service_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
)

// benchDigest is the digest of entry i of the benchmark logs.
func benchDigest(i int64) notary.Digest {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(i))
	return sha256.Sum256(append([]byte("bench document "), buf[:]...))
}

// benchLogs holds the services of the benchmark logs, opened once per process.
var benchLogs sync.Map // size → *service.Service

// benchService returns a service on a SQLite log of size entries. The database is built once
// and kept in os.TempDir(), keyed by size, so that later runs only open it.
func benchService(b *testing.B, size int64) *service.Service {
	if s, ok := benchLogs.Load(size); ok {
		return s.(*service.Service)
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("notary-bench-lookup-v1-%d.db", size))
	s, err := openBenchLog(b, path, size)
	if err != nil {
		b.Logf("building %s (%v)", path, err)
		start := time.Now()
		if err := buildBenchLog(b, path, size); err != nil {
			b.Fatal(err)
		}
		b.Logf("built the log of %d entries in %v", size, time.Since(start).Round(time.Millisecond))
		if s, err = openBenchLog(b, path, size); err != nil {
			b.Fatal(err)
		}
	}
	benchLogs.Store(size, s)
	return s
}

// openBenchLog opens the cached log at path, if it is there and whole. Its database stays
// open until the process exits.
func openBenchLog(b *testing.B, path string, size int64) (*service.Service, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	db, err := store.Open(path)
	if err != nil {
		return nil, err
	}
	cfg := service.Config{Signer: newSigner(b, logSkey), Verifier: logVkey, Store: db}
	s, err := service.New(context.Background(), cfg)
	if err == nil && (s.Size() != size || s.LatestCheckpoint().Size != size) {
		err = fmt.Errorf("it holds %d entries and a checkpoint of %d, want %d", s.Size(), s.LatestCheckpoint().Size, size)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// buildBenchLog writes a log of size entries, with their Merkle hashes and a checkpoint,
// straight into a new store, then moves it to path.
func buildBenchLog(b *testing.B, path string, size int64) error {
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	for _, p := range []string{path, tmp} {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(p + suffix)
		}
	}
	db, err := store.Open(tmp)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	log := &logtest.MemLog{Hashes: make([]merkle.Hash, 0, merkle.StoredHashCount(size))}
	const batch = 100_000
	t0 := time.UnixMilli(1_795_650_000_000).UTC()
	for first := int64(0); first < size; first += batch {
		n := min(batch, size-first)
		entries := make([]notary.Entry, n)
		hashStart := int64(len(log.Hashes))
		for k := range entries {
			i := first + int64(k)
			e := notary.Entry{Index: i, Digest: benchDigest(i), Time: t0.Add(time.Duration(i) * time.Millisecond)}
			binary.BigEndian.PutUint64(e.Nonce[:], uint64(i)*0x9e3779b97f4a7c15)
			hs, err := merkle.StoredHashes(i, e.LeafHash(), log)
			if err != nil {
				return err
			}
			log.Hashes = append(log.Hashes, hs...)
			entries[k] = e
		}
		if err := db.AppendEntries(ctx, entries, log.Hashes[hashStart:]); err != nil {
			return err
		}
	}
	root, err := merkle.TreeHash(size, log)
	if err != nil {
		return err
	}
	signer := newSigner(b, logSkey)
	cp, err := notary.SignCheckpoint(size, root, signer)
	if err != nil {
		return err
	}
	if err := db.SaveCheckpoint(ctx, cp); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// BenchmarkLookup looks up random digests in SQLite logs of 1e4 and 1e6 entries: the entry
// and its inclusion proof in the latest checkpoint.
func BenchmarkLookup(b *testing.B) {
	for _, size := range []int64{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("size=%.0e", float64(size)), func(b *testing.B) {
			s := benchService(b, size)
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, uint64(size)))
			queries := make([]notary.Digest, 4096)
			for k := range queries {
				queries[k] = benchDigest(rng.Int64N(size))
			}
			b.ReportAllocs()
			k := 0
			for b.Loop() {
				ts, err := s.Lookup(ctx, queries[k%len(queries)])
				if err != nil {
					b.Fatal(err)
				}
				if ts.Proof == nil {
					b.Fatal("no proof")
				}
				k++
			}
		})
	}
}
