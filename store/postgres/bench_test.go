package postgres

// The benchmarks run on the server of pgtest.Shared, a database each, with durable
// commits. Iterations are batches or chunks, so give counts:
//
//	go test ./store/postgres -run '^$' -bench 'AppendEntries' -benchtime 1000x
//	go test ./store/postgres -run '^$' -bench 'IndexDigests' -benchtime 64x -v
//	go test ./store/postgres -run '^$' -bench 'LookupDigests|Reads'

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// settle vacuums and analyzes the database, so that a benchmark that follows a bulk load
// measures the steady state, not autovacuum catching up.
func settle(b *testing.B, db *DB) {
	b.Helper()
	if _, err := db.pool.Exec(context.Background(), `VACUUM ANALYZE`); err != nil {
		b.Fatal(err)
	}
}

// tableBytes returns the bytes on disk of the tables named, with their indexes and TOAST.
func tableBytes(b *testing.B, db *DB, tables ...string) int64 {
	b.Helper()
	var n int64
	for _, t := range tables {
		var size int64
		if err := db.pool.QueryRow(context.Background(), `SELECT pg_total_relation_size($1)`, t).Scan(&size); err != nil {
			b.Fatal(err)
		}
		n += size
	}
	return n
}

// BenchmarkAppendEntries appends a batch an iteration, one after the other as the
// sequencer does, and reports entries/s and the bytes on disk each entry took, entries
// and hashes (B/entry).
func BenchmarkAppendEntries(b *testing.B) {
	for _, batch := range []int{1, 40, 1000, 8192} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			db, _ := openTest(b)
			ctx := context.Background()
			before := tableBytes(b, db, "entry_batches", "hash_batches")
			var size int64
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				entries, hashes := fakeBatch(size, batch)
				b.StartTimer()
				start := time.Now()
				if err := db.AppendEntries(ctx, entries, hashes); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				size += int64(batch)
			}
			b.ReportMetric(float64(size)/elapsed.Seconds(), "entries/s")
			after := tableBytes(b, db, "entry_batches", "hash_batches")
			b.ReportMetric(float64(after-before)/float64(size), "B/entry")
			b.ReportMetric(float64(size), "entries")
		})
	}
}

// BenchmarkIndexDigests appends a chunk of 65,536 entries an iteration (not timed), as
// many as the service indexes at once, and indexes their digests. It reports digests/s
// over every chunk and over the last eight, and the bytes on disk of the index per digest;
// with -v it logs the rate as the index grows.
func BenchmarkIndexDigests(b *testing.B) {
	ctx := context.Background()
	db, _ := openTest(b)
	const chunk = 1 << 16
	var (
		size     int64
		indexing time.Duration
		recent   []time.Duration
		logged   time.Duration
		loggedAt int64
	)
	before := tableBytes(b, db, "digests")
	var walBytes, walFPI int64
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		entries, hashes := fakeBatch(size, chunk)
		if err := db.AppendEntries(ctx, entries, hashes); err != nil {
			b.Fatal(err)
		}
		size += chunk
		bytes0, fpi0 := walStats(b, db)
		cpu0 := serverCPU(b, db)
		b.StartTimer()
		start := time.Now()
		if err := db.IndexDigests(ctx, size); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		b.StopTimer()
		bytes1, fpi1 := walStats(b, db)
		cpu += serverCPU(b, db) - cpu0
		walBytes, walFPI = walBytes+bytes1-bytes0, walFPI+fpi1-fpi0
		b.StartTimer()
		indexing += d
		recent = append(recent, d)
		if len(recent) > 8 {
			recent = recent[1:]
		}
		if size-loggedAt >= 1<<20 {
			b.Logf("index of %.2fM digests: %.0f digests/s over the last %.2fM; %.0f WAL B and %.3f FPI per digest so far; server CPU %.1f µs/digest", float64(size)/1e6,
				float64(size-loggedAt)/(indexing-logged).Seconds(), float64(size-loggedAt)/1e6, float64(walBytes)/float64(size), float64(walFPI)/float64(size), float64(cpu.Microseconds())/float64(size))
			logged, loggedAt = indexing, size
		}
	}
	var last time.Duration
	for _, d := range recent {
		last += d
	}
	b.ReportMetric(float64(size)/indexing.Seconds(), "digests/s")
	b.ReportMetric(float64(len(recent)*chunk)/last.Seconds(), "last-digests/s")
	b.ReportMetric(float64(tableBytes(b, db, "digests")-before)/float64(size), "B/digest")
	b.ReportMetric(float64(size), "digests")
	b.ReportMetric(float64(walBytes)/float64(size), "WAL-B/digest")
	b.ReportMetric(float64(walFPI)/float64(size), "FPI/digest")
	b.ReportMetric(float64(cpu.Microseconds())/float64(size), "server-µs/digest")
}

// walStats returns the server's WAL bytes and full-page images written so far.
func walStats(b *testing.B, db *DB) (bytes, fpi int64) {
	b.Helper()
	if err := db.pool.QueryRow(context.Background(), `SELECT wal_bytes::bigint, wal_fpi FROM pg_stat_wal`).Scan(&bytes, &fpi); err != nil {
		b.Fatal(err)
	}
	return bytes, fpi
}

// BenchmarkLookupDigests measures LookupDigests of one digest or of many, half of them
// logged, in an index of 1<<20 entries.
func BenchmarkLookupDigests(b *testing.B) {
	ctx := context.Background()
	db, _ := openTest(b)
	const size, chunk = 1 << 20, 1 << 16
	for first := int64(0); first < size; first += chunk {
		entries, hashes := fakeBatch(first, chunk)
		if err := db.AppendEntries(ctx, entries, hashes); err != nil {
			b.Fatal(err)
		}
		if err := db.IndexDigests(ctx, first+chunk); err != nil {
			b.Fatal(err)
		}
	}
	settle(b, db)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 32, 1024} {
		b.Run(fmt.Sprintf("digests=%d", n), func(b *testing.B) {
			const sets = 64
			var ds [sets][]notary.Digest
			for s := range ds {
				ds[s] = make([]notary.Digest, n)
				for k := range ds[s] {
					entries, _ := fakeBatch(rng.Int64N(size), 1)
					ds[s][k] = entries[0].Digest
					ds[s][k][31] ^= byte(k % 2) // even: logged; odd: not
				}
			}
			out := make([]int64, n)
			i := 0
			for b.Loop() {
				if err := db.LookupDigests(ctx, ds[i%sets], out); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n)/1e3, "µs/digest")
		})
	}
}

// BenchmarkReads measures the reads of proofs and of a start-up on a log of 1<<20
// entries in rows of 8,192.
func BenchmarkReads(b *testing.B) {
	ctx := context.Background()
	db, _ := openTest(b)
	const size, batch = 1 << 20, 8192
	for first := int64(0); first < size; first += batch {
		entries, hashes := fakeBatch(first, batch)
		if err := db.AppendEntries(ctx, entries, hashes); err != nil {
			b.Fatal(err)
		}
	}
	settle(b, db)
	rng := rand.New(rand.NewPCG(1, 2))

	b.Run("ReadHashes/proof", func(b *testing.B) {
		// The storage indexes of an inclusion proof, as merkle asks for them.
		const sets = 256
		var indexes [sets][]int64
		total := 0
		for k := range indexes {
			r := merkle.HashReaderFunc(func(ix []int64) ([]merkle.Hash, error) {
				indexes[k] = append(indexes[k], ix...)
				return make([]merkle.Hash, len(ix)), nil
			})
			if _, err := merkle.InclusionProof(rng.Int64N(size), size, r); err != nil {
				b.Fatal(err)
			}
			total += len(indexes[k])
		}
		i := 0
		for b.Loop() {
			if _, err := db.ReadHashes(ctx, indexes[i%sets]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(total)/sets, "indexes/op")
	})

	b.Run("Entry", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Entry(ctx, rng.Int64N(size)); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("ScanEntries", func(b *testing.B) {
		var n int64
		for b.Loop() {
			if err := db.ScanEntries(ctx, 0, func(notary.Entry) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entries/s")
	})
}

// serverCPU returns the CPU time used so far by the database server's processes: the
// postmaster and every process it started, those that ended included. It reads /proc, so
// the server must run on this machine; elsewhere it returns 0. A benchmark reports it per
// item, which, unlike the rate, hardly moves when the machine is busy.
func serverCPU(b *testing.B, db *DB) time.Duration {
	b.Helper()
	var backend int
	if err := db.pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		b.Fatal(err)
	}
	stat := func(pid int) (ppid int, ticks int64, ok bool) {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, 0, false
		}
		// Fields after the command, which is in parentheses: state ppid … utime(14) stime(15) cutime(16) cstime(17).
		f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
		ppid, _ = strconv.Atoi(f[1])
		for _, k := range []int{11, 12, 13, 14} {
			n, _ := strconv.ParseInt(f[k], 10, 64)
			ticks += n
		}
		return ppid, ticks, true
	}
	postmaster, _, ok := stat(backend)
	if !ok {
		return 0
	}
	_, total, _ := stat(postmaster)
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if ppid, ticks, ok := stat(pid); ok && ppid == postmaster {
			total += ticks
		}
	}
	return time.Duration(total) * time.Second / 100 // USER_HZ
}
