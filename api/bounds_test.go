package api_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/fstest"
	"testing/synctest"
	"time"

	"github.com/notary-dev/notary/api"
)

// The tests of this file each show a resource that a client could grow without bound held
// to its bound, and what the client sees when it reaches it.

// TestMetricsLabelsClosed sends requests with methods of 100 kB, each its own, to a page,
// an API route and no route: /metrics gets one series for all of them ("other"), and does
// not grow with their number.
func TestMetricsLabelsClosed(t *testing.T) {
	s := newStack(t, stackConfig{})
	pages := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>notary</title>")}}
	url := serve(t, api.New(api.Config{Service: s.svc, Pages: pages}))

	abuse := func(i int) {
		method := fmt.Sprintf("M%04d", i) + strings.Repeat("X", 100_000)
		for _, path := range []string{"/", "/v1/status", fmt.Sprintf("/v1/nothing/%d", i)} {
			r := doH(t, method, url+path, nil)
			if r.status != http.StatusMethodNotAllowed && r.status != http.StatusNotFound {
				t.Fatalf("%.8s… %s: status %d", method, path, r.status)
			}
		}
	}
	series := func() (map[string]bool, int) {
		body := doH(t, http.MethodGet, url+"/metrics", nil).body
		out := map[string]bool{}
		for line := range strings.Lines(string(body)) {
			if !strings.HasPrefix(line, "#") {
				name, _, _ := strings.Cut(line, " ") // name and labels, without the value
				out[name] = true
			}
		}
		return out, len(body)
	}

	abuse(0)
	series() // the series of GET /metrics itself
	before, size := series()
	for i := 1; i <= 40; i++ {
		abuse(i)
	}
	after, sizeAfter := series()
	if added := slices.Sorted(func(yield func(string) bool) {
		for k := range after {
			if !before[k] && !yield(k) {
				return
			}
		}
	}); len(added) > 0 {
		t.Errorf("40 more requests with new methods added %d series: %.200q…", len(added), added)
	}
	// The counts gain a digit or so; a series per method would add megabytes.
	if sizeAfter > size+4096 {
		t.Errorf("/metrics grew from %d to %d bytes", size, sizeAfter)
	}
	methods := map[string]bool{}
	for k := range after {
		if m := methodLabel.FindStringSubmatch(k); m != nil {
			methods[m[1]] = true
		}
	}
	if got := slices.Sorted(maps.Keys(methods)); !slices.Equal(got, []string{"GET", "other"}) {
		t.Errorf("method labels %.200q, want GET and other", got)
	}
	for _, k := range []string{
		`notary_http_request_duration_seconds_count{code="405",method="other",route="/"}`,
		`notary_http_request_duration_seconds_count{code="405",method="other",route="/v1/status"}`,
		`notary_http_request_duration_seconds_count{code="404",method="other",route="other"}`,
	} {
		if !after[k] {
			t.Errorf("no series %s", k)
		}
	}
}

var methodLabel = regexp.MustCompile(`method="([^"]*)"`)

// countingKeys counts the lookups of a key store.
type countingKeys struct {
	api.KeyStore
	lookups atomic.Int64
}

func (k *countingKeys) APIKeyByHash(ctx context.Context, hash [32]byte) (string, string, bool, error) {
	k.lookups.Add(1)
	return k.KeyStore.APIKeyByHash(ctx, hash)
}

// callFrom calls h directly, as from the address from (host:port), with headers as name,
// value pairs.
func callFrom(h http.Handler, from, method, path string, headers ...string) reply {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = from
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return reply{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// TestBadTokensLimited sends made-up tokens from one address: each costs a lookup in the
// key store until the address has had as many refusals as the anonymous burst; past that
// they are answered 429 without a lookup. The key store is thus asked no more often than
// the anonymous rate allows, whoever sends tokens. On synctest's clock, so that the
// bucket refills only when the test waits.
func TestBadTokensLimited(t *testing.T) {
	s := newStack(t, stackConfig{})
	synctest.Test(t, func(t *testing.T) {
		keys := &countingKeys{KeyStore: memKeys{"token-a": "a", "token-b": "b"}}
		h := api.New(api.Config{Service: s.svc, Keys: keys, Limits: api.Limits{
			Anonymous: api.Rate{PerSecond: 0.5, Burst: 3},
			Key:       api.Rate{PerSecond: 0.5, Burst: 100},
		}})
		const attacker, other = "192.0.2.1:1234", "198.51.100.7:1234"
		get := func(from, token string) reply {
			return callFrom(h, from, http.MethodGet, "/v1/checkpoint", "Authorization", "Bearer "+token)
		}
		if r := get(attacker, "token-a"); r.status != 200 {
			t.Fatalf("a valid key: status %d", r.status)
		}
		keys.lookups.Store(0)

		for i := range 3 {
			wantError(t, get(attacker, fmt.Sprintf("made-up-%d", i)), 401, "bad_api_key")
		}
		if n := keys.lookups.Load(); n != 3 {
			t.Fatalf("%d lookups for 3 made-up tokens", n)
		}
		for i := range 50 {
			r := get(attacker, fmt.Sprintf("made-up-more-%d", i))
			wantError(t, r, 429, "rate_limited")
			if r.header.Get("Retry-After") != "2" {
				t.Fatalf("Retry-After %q, want 2", r.header.Get("Retry-After"))
			}
		}
		// A token refused before, answered from the cache, counts too.
		wantError(t, get(attacker, "made-up-0"), 429, "rate_limited")
		if n := keys.lookups.Load(); n != 3 {
			t.Errorf("%d lookups: made-up tokens past the budget were looked up", n)
		}

		// The refusals are the address's: a valid key known from it, its anonymous
		// requests and the made-up tokens of other addresses are not refused for them.
		if r := get(attacker, "token-a"); r.status != 200 {
			t.Errorf("a valid key from the same address: status %d", r.status)
		}
		if r := callFrom(h, attacker, http.MethodGet, "/v1/checkpoint"); r.status != 200 {
			t.Errorf("an anonymous request from the same address: status %d", r.status)
		}
		wantError(t, get(other, "made-up-0"), 401, "bad_api_key")
		// A key the service does not know yet needs the budget for a lookup.
		wantError(t, get(attacker, "token-b"), 429, "rate_limited")

		// The budget refills at the anonymous rate: one more lookup after 2 s.
		time.Sleep(2 * time.Second)
		if r := get(attacker, "token-b"); r.status != 200 {
			t.Errorf("a valid key after the wait: status %d", r.status)
		}
		wantError(t, get(attacker, "made-up-after"), 401, "bad_api_key") // the key's lookup gave its turn back
		wantError(t, get(attacker, "made-up-after-2"), 429, "rate_limited")
	})
}

// TestKeyCacheKeepsValidKeys sends 12,000 made-up tokens, each from its own address, more
// than the key cache holds: valid keys stay cached (the store is not asked for them
// again), and the made-up tokens each cost one lookup.
func TestKeyCacheKeepsValidKeys(t *testing.T) {
	s := newStack(t, stackConfig{})
	synctest.Test(t, func(t *testing.T) { // no time passes: the cache's entries do not expire
		keys := &countingKeys{KeyStore: memKeys{"token-a": "a", "token-b": "b"}}
		h := api.New(api.Config{Service: s.svc, Keys: keys, Limits: api.Limits{
			Anonymous: api.Rate{PerSecond: 0.5, Burst: 3},
			Key:       api.Rate{PerSecond: 1000, Burst: 1000},
		}})
		for _, token := range []string{"token-a", "token-b"} {
			if r := callFrom(h, "192.0.2.1:1", http.MethodGet, "/v1/checkpoint", "Authorization", "Bearer "+token); r.status != 200 {
				t.Fatalf("%s: status %d", token, r.status)
			}
		}
		const n = 12_000
		for i := range n {
			from := fmt.Sprintf("10.%d.%d.%d:1", i>>16, (i>>8)&0xff, i&0xff)
			r := callFrom(h, from, http.MethodGet, "/v1/checkpoint", "Authorization", fmt.Sprintf("Bearer made-up-%d", i))
			if r.status != 401 {
				t.Fatalf("made-up token %d: status %d", i, r.status)
			}
		}
		before := keys.lookups.Load()
		for _, token := range []string{"token-a", "token-b"} {
			if r := callFrom(h, "192.0.2.1:1", http.MethodGet, "/v1/checkpoint", "Authorization", "Bearer "+token); r.status != 200 {
				t.Fatalf("%s after the flood: status %d", token, r.status)
			}
		}
		if got := keys.lookups.Load(); before != 2+n || got != before {
			t.Errorf("lookups: %d for the valid keys and the made-up tokens (want %d), then %d more for the valid keys (want 0)", before, 2+n, got-before)
		}
	})
}

// randomBatch returns the body of a batch of n new digests.
func randomBatch(n int) []byte {
	ds := make([]string, n)
	for i := range ds {
		ds[i] = randomDigest().String()
	}
	return batchJSON(ds...)
}

// TestDigestBudgets holds what one client can make the log store: without a key, a budget
// of digests per address, a batch counting all of its own; with a key, a daily quota.
// The budgets refill so slowly (0.001 digest a second) that no machine runs the test
// long enough to see them refill.
func TestDigestBudgets(t *testing.T) {
	s := newStack(t, stackConfig{})
	url := serve(t, api.New(api.Config{Service: s.svc, Keys: memKeys{"token-a": "a", "token-b": "b"}, Limits: api.Limits{
		AnonymousDigests: api.Rate{PerSecond: 0.001, Burst: 1000},
		KeyDigestsPerDay: 3000,
	}}))
	batch := func(n int, headers ...string) reply {
		return doH(t, http.MethodPost, url+"/v1/timestamps/batch", randomBatch(n), append([]string{"Content-Type", "application/json"}, headers...)...)
	}
	retryAfter := func(r reply, lo, hi int) {
		t.Helper()
		n, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || n < lo || n > hi {
			t.Errorf("Retry-After %q, want %d to %d seconds", r.header.Get("Retry-After"), lo, hi)
		}
	}

	// Without a key: one batch of the whole budget, then nothing, whatever the requests.
	if r := batch(1000); r.status != 200 {
		t.Fatalf("an anonymous batch of 1000: status %d, %.300s", r.status, r.body)
	}
	for range 20 {
		r := batch(1000)
		wantError(t, r, 429, "rate_limited")
		retryAfter(r, 900_000, 1_000_000) // 1000 digests at 0.001 a second
	}
	r := batch(1)
	wantError(t, r, 429, "rate_limited")
	retryAfter(r, 1, 1000)
	wantError(t, doH(t, http.MethodPost, url+"/v1/timestamps", submitBody(randomDigest().String()), "Content-Type", "application/json"), 429, "rate_limited")
	d := randomDigest()
	if r := doH(t, http.MethodPost, url+"/digest", d[:]); r.status != 429 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("POST /digest past the budget: status %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
	}
	// More than the budget ever allows at once is refused as such.
	wantError(t, batch(1001), 400, "too_many_digests")
	if n := s.svc.Size(); n != 1000 {
		t.Fatalf("the log has %d entries, want the 1000 of the budget", n)
	}

	// With a key: its daily quota, whatever the address has used; each key its own.
	if r := batch(3000, "Authorization", "Bearer token-a"); r.status != 200 {
		t.Fatalf("a batch of 3000 with key a: status %d, %.300s", r.status, r.body)
	}
	r = batch(1, "Authorization", "Bearer token-a")
	wantError(t, r, 429, "rate_limited")
	retryAfter(r, 1, 29) // a day's 3000 digests: one every 28.8 s
	wantError(t, batch(3001, "Authorization", "Bearer token-b"), 400, "too_many_digests")
	if r := batch(10, "Authorization", "Bearer token-b"); r.status != 200 {
		t.Errorf("key b after key a's quota: status %d", r.status)
	}
	if n := s.svc.Size(); n != 4010 {
		t.Errorf("the log has %d entries, want 4010", n)
	}
}

// smallBuffers is a listener whose connections have small send buffers, so that an answer
// that its client does not read stays with the server, as it does over a slow network.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// slowReader sends a batch of n digests from the loopback address from, with a small
// receive buffer, and does not read the answer.
func slowReader(t *testing.T, addr, from string, n int) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	body := randomBatch(n)
	fmt.Fprintf(c, "POST /v1/timestamps/batch HTTP/1.1\r\nHost: notary.test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return c
}

// TestSlowBatchReaders sends full batches from clients that never read their answers
// (2.3 MB each): they hold no more batches in progress than the limits, others are told so
// at once (503 busy, or 429 for a client at its own limit), and their places are free
// again once they hang up. /metrics counts the batches in progress.
func TestSlowBatchReaders(t *testing.T) {
	s := newStack(t, stackConfig{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.New(api.Config{Service: s.svc, Limits: api.Limits{Batches: 4, BatchesPerClient: 2}})}
	go srv.Serve(smallBuffers{ln})
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String()
	inProgress := func() float64 {
		return parseMetrics(t, doH(t, http.MethodGet, url+"/metrics", nil).body)["notary_batches_in_progress"]
	}
	waitInProgress := func(n float64) {
		t.Helper()
		for deadline := time.Now().Add(patience); inProgress() != n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%v batches in progress, want %v", inProgress(), n)
			}
		}
	}

	var slow []net.Conn
	for _, from := range []string{"127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2"} {
		slow = append(slow, slowReader(t, ln.Addr().String(), from, api.MaxBatchDigests))
	}
	waitInProgress(4)
	post := func(from string) reply {
		t.Helper()
		c := dial(t, ln.Addr().String(), from)
		body := randomBatch(1)
		fmt.Fprintf(c.conn, "POST /v1/timestamps/batch HTTP/1.1\r\nHost: notary.test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		resp, err := http.ReadResponse(c.r, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return reply{status: resp.StatusCode, header: resp.Header, body: b}
	}
	for range 10 {
		r := post("127.0.0.1")
		wantError(t, r, http.StatusTooManyRequests, "rate_limited")
		if r.header.Get("Retry-After") != "1" {
			t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
		}
		r = post("127.0.0.3")
		wantError(t, r, http.StatusServiceUnavailable, "busy")
		if r.header.Get("Retry-After") != "1" {
			t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	if n := inProgress(); n != 4 {
		t.Errorf("%v batches in progress, want 4", n)
	}
	for _, c := range slow {
		c.Close()
	}
	waitInProgress(0)
	if r := post("127.0.0.3"); r.status != 200 {
		t.Errorf("once the slow readers hung up: status %d", r.status)
	}
}
