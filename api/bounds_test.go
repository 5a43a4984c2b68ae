package api_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
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
		`notary_http_request_duration_seconds_count{method="other",route="/",code="405"}`,
		`notary_http_request_duration_seconds_count{method="other",route="/v1/status",code="405"}`,
		`notary_http_request_duration_seconds_count{method="other",route="other",code="404"}`,
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
