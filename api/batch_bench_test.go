package api_test

// Load benchmarks of batch submission and proof lookups over real HTTP on loopback, against
// a real stack (SQLite in a temporary directory), with the load generator in the same
// process. Run them with
//
//	go test ./api -run '^$' -bench 'BatchSubmit|LookupProof' -benchtime 5s -count 5
//
// BenchmarkBatchSubmit reports digests/s made durable through POST /v1/timestamps/batch;
// BenchmarkLookupProof reports req/s and latency percentiles of GET /v1/proofs/inclusion.

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/notary"
)

// batchClients is how many clients send batches at once, each waiting for its answer.
const batchClients = 4

// batchBody returns a function that makes the body of a batch of n new random digests.
func batchBody(seed uint64, n int) func() []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	binary.LittleEndian.PutUint64(s[8:], uint64(time.Now().UnixNano()))
	rng := rand.NewChaCha8(s)
	return func() []byte {
		body := make([]byte, 0, 16+n*67)
		body = append(body, `{"digests":[`...)
		var d [32]byte
		for i := range n {
			if i > 0 {
				body = append(body, ',')
			}
			rng.Read(d[:])
			body = append(body, '"')
			body = hex.AppendEncode(body, d[:])
			body = append(body, '"')
		}
		return append(body, "]}"...)
	}
}

// BenchmarkBatchSubmit measures durable batch submissions: each operation is one request
// of api.MaxBatchDigests new random digests, answered once they are synced to disk.
func BenchmarkBatchSubmit(b *testing.B) {
	s := newStack(b, stackConfig{CheckpointInterval: time.Second})
	client := newBenchClient(b)
	url := s.url + "/v1/timestamps/batch"
	bodies := make([]func() []byte, batchClients)
	for c := range bodies {
		bodies[c] = batchBody(uint64(c), api.MaxBatchDigests)
	}
	// Check one answer in full before the clock starts.
	var v api.BatchView
	r := do(b, http.DefaultClient, http.MethodPost, url, "application/json", bodies[0]())
	if err := json.Unmarshal(r.body, &v); err != nil || r.status != http.StatusOK || len(v.Receipts) != api.MaxBatchDigests {
		b.Fatalf("status %d, %d receipts, %v", r.status, len(v.Receipts), err)
	}
	before := s.svc.Size()

	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		failed  error
	)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for c := range batchClients {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := post(client, url, bodies[c]()); err != nil {
					errOnce.Do(func() { failed = err })
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	digests := int64(b.N) * api.MaxBatchDigests
	if got := s.svc.Size() - before; got != digests {
		b.Fatalf("the log grew by %d entries for %d digests", got, digests)
	}
	b.ReportMetric(float64(digests)/elapsed.Seconds(), "digests/s")
	// CPU per digest, of the service and the client in this process: unlike the rate, it
	// hardly moves when the rest of the machine is busy.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(digests)/1e3, "cpu-µs/digest")
	commits := s.store.appends.Load()
	b.ReportMetric(float64(s.store.nanos.Load())/float64(commits)/1e6, "append-ms")
}

// proofLogSize is the number of entries in BenchmarkLookupProof's log.
const proofLogSize = 100_000

// BenchmarkLookupProof measures GET /v1/proofs/inclusion of random entries of a log of
// proofLogSize entries, against the latest checkpoint.
func BenchmarkLookupProof(b *testing.B) {
	s := newStack(b, stackConfig{CheckpointInterval: 10 * time.Millisecond})
	ctx := context.Background()
	for s.svc.Size() < proofLogSize {
		batch := make([]notary.Digest, 10_000)
		for k := range batch {
			batch[k] = randomDigest()
		}
		if _, err := s.svc.SubmitEntries(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); s.svc.LatestCheckpoint().Size < proofLogSize; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("no checkpoint of the whole log after 30 s")
		}
	}
	size := s.svc.LatestCheckpoint().Size
	urls := make([]string, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/v1/proofs/inclusion?index=%d&size=%d", s.url, rng.Int64N(size), size)
	}
	// Check one answer in full before the clock starts.
	r := do(b, http.DefaultClient, http.MethodGet, urls[0], "", nil)
	var v api.InclusionView
	if err := json.Unmarshal(r.body, &v); err != nil || r.status != http.StatusOK || len(v.Proof) == 0 {
		b.Fatalf("status %d, body %.200s", r.status, r.body)
	}
	client := newBenchClient(b)
	runLoad(b, func(_, i int) error {
		req, err := http.NewRequest(http.MethodGet, urls[i%len(urls)], nil)
		if err != nil {
			return err
		}
		return roundTrip(client, req)
	})
}
