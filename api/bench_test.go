package api_test

// Load benchmarks of the REST API over real HTTP on loopback, with the load generator in
// the same process (and so on the same cores) as the server. Run them with
//
//	go test ./api -run '^$' -bench '^Benchmark(Submit|EchoBaseline|Lookup)$' -benchtime 5s -count 5
//
// and compare BenchmarkSubmit's req/s with BenchmarkEchoBaseline's from the same run
// (benchstat gives the medians). cpu-µs/req, the CPU time of the whole process per request,
// varies far less than req/s when other programs share the machine.
// ns/op is the inverse of the throughput, not a request's latency: see p50-ms and p99-ms.

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/notary-dev/notary/internal/strictjson"
	"github.com/notary-dev/notary/notary"
)

// benchClients is how many clients send requests at once, each waiting for its answer
// before sending the next.
const benchClients = 64

// newBenchClient returns an HTTP client that keeps a connection open for every benchmark client.
func newBenchClient(tb testing.TB) *http.Client {
	tr := &http.Transport{
		MaxIdleConns:        2 * benchClients,
		MaxIdleConnsPerHost: 2 * benchClients,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// runLoad makes b.N requests from benchClients concurrent clients, each request made by
// send(client number, request number), and reports the throughput and latency percentiles.
func runLoad(b *testing.B, send func(client, i int) error) {
	latencies := make([]time.Duration, b.N)
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		failed  error
	)
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for c := range benchClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if err := send(c, i); err != nil {
					errOnce.Do(func() { failed = err })
					next.Store(int64(b.N)) // stop every client
					return
				}
				latencies[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	// The CPU time of the whole process (server and load generator) per request depends
	// less on what else runs on the machine than the throughput does.
	b.ReportMetric(float64(cpu)/float64(time.Microsecond)/float64(b.N), "cpu-µs/req")
}

// post sends body to url as JSON and reads the whole answer, which must be 200 OK.
func post(client *http.Client, url string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return roundTrip(client, req)
}

func roundTrip(client *http.Client, req *http.Request) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: status %d: %s", req.Method, req.URL.Path, resp.StatusCode, msg)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// digestBodies returns, for each benchmark client, a function that makes the JSON body
// of a new random digest.
func digestBodies() []func() []byte {
	gens := make([]func() []byte, benchClients)
	for c := range gens {
		var seed [32]byte
		binary.LittleEndian.PutUint64(seed[:], uint64(time.Now().UnixNano()))
		binary.LittleEndian.PutUint64(seed[8:], uint64(c))
		rng := rand.NewChaCha8(seed)
		gens[c] = func() []byte {
			var d [32]byte
			rng.Read(d[:])
			body := make([]byte, 0, 80)
			body = append(body, `{"digest":"`...)
			body = hex.AppendEncode(body, d[:])
			return append(body, `"}`...)
		}
	}
	return gens
}

// BenchmarkSubmit measures durable submissions: each request is a new random digest, and
// its receipt, a pending proof in a checkpoint signed for its commit, comes back only once
// the entry is synced to disk.
func BenchmarkSubmit(b *testing.B) {
	s := newStack(b, stackConfig{CheckpointInterval: time.Second})
	// Check one receipt in full before the clock starts.
	ts, _ := submit(b, s, randomDigest().String())
	if p, err := notary.ParseProof(ts.Proof); err != nil {
		b.Fatal(err)
	} else if _, err := notary.Verify(p, p.OwnKey()); err != nil {
		b.Fatal(err)
	}
	client := newBenchClient(b)
	url := s.url + "/v1/timestamps"
	bodies := digestBodies()
	runLoad(b, func(c, _ int) error { return post(client, url, bodies[c]()) })

	if got := s.svc.Size(); got != 1+int64(b.N) {
		b.Fatalf("the log has %d entries after 1+%d submissions", got, b.N)
	}
	commits := s.store.appends.Load()
	b.ReportMetric(float64(s.store.entries.Load())/float64(commits), "rows/commit")
	b.ReportMetric(float64(s.store.nanos.Load())/float64(commits)/1e6, "append-ms")
}

// BenchmarkEchoBaseline is the same load as BenchmarkSubmit against an Echo POST handler
// that reads the body and does nothing else: the ceiling of HTTP on this machine.
func BenchmarkEchoBaseline(b *testing.B) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/v1/timestamps", func(c echo.Context) error {
		if _, err := io.Copy(io.Discard, c.Request().Body); err != nil {
			return err
		}
		return c.NoContent(http.StatusOK)
	})
	url := serve(b, e) + "/v1/timestamps"
	client := newBenchClient(b)
	bodies := digestBodies()
	runLoad(b, func(c, _ int) error { return post(client, url, bodies[c]()) })
}

// lookupLogSize is the number of entries in BenchmarkLookup's log.
const lookupLogSize = 10_000

// BenchmarkLookup measures GET /v1/timestamps/{digest} of random entries of a log of
// lookupLogSize entries, all in the latest checkpoint, so that every answer carries a
// signed receipt and an inclusion proof.
func BenchmarkLookup(b *testing.B) {
	s := newStack(b, stackConfig{CheckpointInterval: 10 * time.Millisecond})
	ctx := context.Background()
	urls := make([]string, 0, lookupLogSize)
	for len(urls) < lookupLogSize {
		batch := make([]notary.Digest, 1000)
		for k := range batch {
			batch[k] = randomDigest()
			urls = append(urls, s.url+"/v1/timestamps/"+batch[k].String())
		}
		if _, err := s.svc.SubmitEntries(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	waitUntil(b, "checkpoint of the whole log", func() bool { return s.svc.LatestCheckpoint().Size >= lookupLogSize })
	// Check one answer in full before the clock starts.
	if ts := lookupProof(b, urls[lookupLogSize/2]); ts.Proof == nil {
		b.Fatal("the lookup has no proof")
	}
	client := newBenchClient(b)
	perm := rand.Perm(lookupLogSize)
	runLoad(b, func(_, i int) error {
		req, err := http.NewRequest(http.MethodGet, urls[perm[i%lookupLogSize]], nil)
		if err != nil {
			return err
		}
		return roundTrip(client, req)
	})
}

func lookupProof(tb testing.TB, url string) timestampReply {
	tb.Helper()
	r := do(tb, http.DefaultClient, http.MethodGet, url, "", nil)
	var ts timestampReply
	if err := strictjson.Decode(r.body, &ts); err != nil || r.status != http.StatusOK {
		tb.Fatalf("GET %s: status %d, %v", url, r.status, err)
	}
	return ts
}

// BenchmarkTile measures GET /log/tile/0/<N> of random full level-0 tiles (8 KiB, 256
// stored hashes read from SQLite in one query) of a log of lookupLogSize entries.
func BenchmarkTile(b *testing.B) {
	s := newStack(b, stackConfig{CheckpointInterval: 10 * time.Millisecond})
	ctx := context.Background()
	for n := 0; n < lookupLogSize; n += 1000 {
		batch := make([]notary.Digest, 1000)
		for k := range batch {
			batch[k] = randomDigest()
		}
		if _, err := s.svc.SubmitEntries(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	waitUntil(b, "checkpoint of the whole log", func() bool { return s.svc.LatestCheckpoint().Size >= lookupLogSize })
	const tiles = lookupLogSize / 256
	urls := make([]string, tiles)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/log/tile/0/%03d", s.url, i)
	}
	if r := do(b, http.DefaultClient, http.MethodGet, urls[tiles-1], "", nil); r.status != http.StatusOK || len(r.body) != 8192 {
		b.Fatalf("GET %s: status %d, %d bytes", urls[tiles-1], r.status, len(r.body))
	}
	client := newBenchClient(b)
	runLoad(b, func(_, i int) error {
		req, err := http.NewRequest(http.MethodGet, urls[rand.IntN(tiles)], nil)
		if err != nil {
			return err
		}
		return roundTrip(client, req)
	})
}
