// Command notaryload fills a notary log through the batch endpoint and measures proof
// lookups and start-up against it. It uses the standard library only and talks to one
// loopback URL, the one it is given.
//
// The digests are deterministic: digest i of seed S is SHA-256(S ‖ i), with S and i as
// 64-bit big-endian integers, so that a lookup run can pick digests a fill run logged.
//
// A run against a local service (serve without a rate limit for anonymous clients):
//
//	go build -o /tmp/notaryload ./internal/cmd/notaryload
//	bin/notary serve --network simnet --node http://USER:PASS@127.0.0.1:PORT \
//	    --data /tmp/fill-x/data --addr 127.0.0.1:18480 --anon-rate 0 --anon-digest-rate 0 &
//	/tmp/notaryload fill   -url http://127.0.0.1:18480 -n 10000000 -batch 10000 -clients 8
//	/tmp/notaryload lookup -url http://127.0.0.1:18480 -n 10000000 -clients 64 -duration 30s
//
// and, started right after a restarted service, the time until it is ready:
//
//	/tmp/notaryload ready  -url http://127.0.0.1:18480 -n 10000000
//
// fill prints the rate every 10^6 digests and counts 503 busy and 429 answers, after
// which it waits as Retry-After says. lookup prints requests a second, latency
// percentiles and errors. ready polls /readyz and a lookup every 10 ms and prints when
// each first answered 200, measured from its own start.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "fill":
		err = fill(os.Args[2:])
	case "lookup":
		err = lookup(os.Args[2:])
	case "ready":
		err = ready(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "notaryload:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: notaryload fill|lookup|ready -url URL -n N [flags]  (notaryload CMD -h for the flags)")
	os.Exit(2)
}

// digest returns digest i of seed: SHA-256(seed ‖ i), both 64-bit big-endian.
func digest(seed, i uint64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], seed)
	binary.BigEndian.PutUint64(b[8:], i)
	sum := sha256.Sum256(b[:])
	return hex.EncodeToString(sum[:])
}

// loopbackURL checks that raw is an http URL of a loopback address, the only kind this
// tool talks to, and returns it without a trailing slash.
func loopbackURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return "", fmt.Errorf("-url %q: want http://127.0.0.1:PORT", raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("-url %q: only loopback addresses are allowed", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}

func newClient(conns int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns},
	}
}

// retryAfter returns the wait an answer asks for (1 s if it names none).
func retryAfter(resp *http.Response) time.Duration {
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	return time.Second
}

// sleepUntil sleeps for d, but not past the deadline; it reports whether time is left.
func sleepUntil(d time.Duration, deadline time.Time) bool {
	if left := time.Until(deadline); d > left {
		time.Sleep(max(left, 0))
		return false
	}
	time.Sleep(d)
	return true
}

func fill(args []string) error {
	fs := flag.NewFlagSet("fill", flag.ExitOnError)
	rawURL := fs.String("url", "", "the service's `URL` (loopback)")
	n := fs.Uint64("n", 0, "digests to submit: digest 0 to n-1 of the seed")
	from := fs.Uint64("from", 0, "first digest to submit (to extend a log filled before)")
	batch := fs.Int("batch", 10000, "digests per request (1 to 10,000)")
	clients := fs.Int("clients", 8, "requests in flight at once")
	token := fs.String("token", "", "API key sent as Authorization: Bearer (default: none)")
	seed := fs.Uint64("seed", 1, "digest seed")
	timeout := fs.Duration("timeout", 4*time.Hour, "give up after this long")
	fs.Parse(args)
	base, err := loopbackURL(*rawURL)
	if err != nil {
		return err
	}
	if *n <= *from || *batch < 1 || *batch > 10000 || *clients < 1 {
		return errors.New("want -n > -from, 1 ≤ -batch ≤ 10000 and -clients ≥ 1")
	}
	deadline := time.Now().Add(*timeout)
	client := newClient(*clients, 2*time.Minute)
	batches := (*n - *from + uint64(*batch) - 1) / uint64(*batch)

	var (
		next                atomic.Uint64 // the next batch to send
		busy, limited, errs atomic.Int64  // 503 busy, 429 and other failed answers
		mu                  sync.Mutex    // guards the progress below
		done                uint64
		reported            uint64
		start               = time.Now()
		lastTime            = start
		lastDone            uint64
		failed              error
	)
	report := func(k int) {
		mu.Lock()
		defer mu.Unlock()
		done += uint64(k)
		if done/1_000_000 == reported/1_000_000 && done != *n-*from {
			return
		}
		now := time.Now()
		fmt.Printf("%10d digests  %8.0f/s now  %8.0f/s overall  %6.0fs  busy %d  limited %d  errors %d\n",
			*from+done, float64(done-lastDone)/now.Sub(lastTime).Seconds(),
			float64(done)/now.Sub(start).Seconds(), now.Sub(start).Seconds(),
			busy.Load(), limited.Load(), errs.Load())
		reported, lastTime, lastDone = done, now, done
	}
	// send posts batch b until the service takes it, honouring Retry-After, or the deadline.
	send := func(b uint64) error {
		lo := *from + b*uint64(*batch)
		hi := min(lo+uint64(*batch), *n)
		var body bytes.Buffer
		body.WriteString(`{"digests":[`)
		for i := lo; i < hi; i++ {
			if i > lo {
				body.WriteByte(',')
			}
			body.WriteString(`"` + digest(*seed, i) + `"`)
		}
		body.WriteString(`]}`)
		for attempt := 1; ; attempt++ {
			if time.Now().After(deadline) {
				return fmt.Errorf("digests %d to %d: deadline passed after %d attempts", lo, hi, attempt-1)
			}
			req, _ := http.NewRequest(http.MethodPost, base+"/v1/timestamps/batch", bytes.NewReader(body.Bytes()))
			req.Header.Set("Content-Type", "application/json")
			if *token != "" {
				req.Header.Set("Authorization", "Bearer "+*token)
			}
			resp, err := client.Do(req)
			if err != nil {
				errs.Add(1)
				if attempt >= 5 {
					return fmt.Errorf("digests %d to %d: %v", lo, hi, err)
				}
				sleepUntil(time.Second, deadline)
				continue
			}
			answer, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK && err == nil:
				// One receipt per digest; counting them is enough here, and cheap next to
				// decoding the 2 MB answer on a machine the service shares.
				if got := bytes.Count(answer, []byte(`"index":`)); got != int(hi-lo) {
					return fmt.Errorf("digests %d to %d: %d receipts", lo, hi, got)
				}
				report(int(hi - lo))
				return nil
			case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests:
				if resp.StatusCode == http.StatusTooManyRequests {
					limited.Add(1)
				} else {
					busy.Add(1)
				}
				sleepUntil(retryAfter(resp), deadline)
			default:
				errs.Add(1)
				if attempt >= 5 {
					return fmt.Errorf("digests %d to %d: %s: %.200s", lo, hi, resp.Status, answer)
				}
				sleepUntil(time.Second, deadline)
			}
		}
	}

	var wg sync.WaitGroup
	for range *clients {
		wg.Go(func() {
			for b := next.Add(1) - 1; b < batches; b = next.Add(1) - 1 {
				if err := send(b); err != nil {
					mu.Lock()
					failed = errors.Join(failed, err)
					mu.Unlock()
					next.Store(batches) // the others stop after their batch
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("fill: %d digests in %.1fs: %.0f digests/s; busy %d, limited %d, errors %d\n",
		done, elapsed.Seconds(), float64(done)/elapsed.Seconds(), busy.Load(), limited.Load(), errs.Load())
	if size, err := logSize(client, base); err == nil {
		fmt.Printf("log size %d\n", size)
	}
	return failed
}

// logSize returns the log size that /v1/status answers.
func logSize(client *http.Client, base string) (int64, error) {
	resp, err := client.Get(base + "/v1/status")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		LogSize int64 `json:"log_size"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st.LogSize, err
}

func lookup(args []string) error {
	fs := flag.NewFlagSet("lookup", flag.ExitOnError)
	rawURL := fs.String("url", "", "the service's `URL` (loopback)")
	n := fs.Uint64("n", 0, "pick digests 0 to n-1 of the seed (the size the fill gave the log)")
	clients := fs.Int("clients", 64, "clients, each with one request in flight")
	duration := fs.Duration("duration", 30*time.Second, "how long to run")
	seed := fs.Uint64("seed", 1, "digest seed")
	fs.Parse(args)
	base, err := loopbackURL(*rawURL)
	if err != nil {
		return err
	}
	if *n == 0 || *clients < 1 || *duration <= 0 {
		return errors.New("want -n ≥ 1, -clients ≥ 1 and -duration > 0")
	}
	client := newClient(*clients, 10*time.Second)

	type result struct {
		latencies []time.Duration // of the answers 200
		byStatus  map[string]int  // every other answer, by status or error
	}
	results := make([]result, *clients)
	start := time.Now()
	deadline := start.Add(*duration)
	var wg sync.WaitGroup
	for c := range *clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(*seed, uint64(c)))
			r := &results[c]
			r.byStatus = map[string]int{}
			for time.Now().Before(deadline) {
				d := digest(*seed, rng.Uint64N(*n))
				t0 := time.Now()
				resp, err := client.Get(base + "/v1/timestamps/" + d)
				if err != nil {
					r.byStatus[errorKind(err)]++
					sleepUntil(100*time.Millisecond, deadline)
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					r.byStatus[errorKind(err)]++
				case resp.StatusCode == http.StatusOK:
					r.latencies = append(r.latencies, time.Since(t0))
				default:
					r.byStatus[resp.Status]++
					if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests {
						sleepUntil(retryAfter(resp), deadline)
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	var all []time.Duration
	byStatus := map[string]int{}
	for _, r := range results {
		all = append(all, r.latencies...)
		for k, v := range r.byStatus {
			byStatus[k] += v
		}
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(int(p*float64(len(all))), len(all)-1)]
	}
	errCount := 0
	for _, v := range byStatus {
		errCount += v
	}
	fmt.Printf("lookup: %d clients, %.1fs: %d ok, %.0f req/s, p50 %v, p99 %v, p99.9 %v, max %v, errors %d %v\n",
		*clients, elapsed.Seconds(), len(all), float64(len(all))/elapsed.Seconds(),
		pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond),
		pct(0.999).Round(time.Microsecond), pct(1).Round(time.Microsecond), errCount, byStatus)
	if len(all) == 0 {
		return errors.New("no lookup succeeded")
	}
	return nil
}

// errorKind names a transport error briefly, for the error counts.
func errorKind(err error) string {
	if errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
		return "timeout"
	}
	return "transport error"
}

func ready(args []string) error {
	fs := flag.NewFlagSet("ready", flag.ExitOnError)
	rawURL := fs.String("url", "", "the service's `URL` (loopback)")
	n := fs.Uint64("n", 1, "the lookup asks for digest n-1 of the seed, the last one logged")
	seed := fs.Uint64("seed", 1, "digest seed")
	every := fs.Duration("every", 10*time.Millisecond, "poll this often")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	fs.Parse(args)
	base, err := loopbackURL(*rawURL)
	if err != nil {
		return err
	}
	if *n == 0 {
		return errors.New("want -n ≥ 1")
	}
	client := newClient(2, time.Second)
	ok := func(path string) bool {
		resp, err := client.Get(base + path)
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	start := time.Now()
	var readyAt, lookupAt time.Duration
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for readyAt == 0 || lookupAt == 0 {
		if time.Since(start) > *timeout {
			return fmt.Errorf("not ready after %v (readyz %v, lookup %v)", *timeout, readyAt, lookupAt)
		}
		if readyAt == 0 && ok("/readyz") {
			readyAt = time.Since(start)
		}
		if lookupAt == 0 && ok("/v1/timestamps/"+digest(*seed, *n-1)) {
			lookupAt = time.Since(start)
		}
		<-tick.C
	}
	fmt.Printf("ready: /readyz 200 after %v, first lookup 200 after %v\n",
		readyAt.Round(time.Millisecond), lookupAt.Round(time.Millisecond))
	return nil
}
