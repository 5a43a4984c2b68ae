package api_test

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

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
