package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/notary-dev/notary/api"
)

// TestHEAD asks every GET route and page with HEAD: the answer is GET's, status and
// headers, without the body.
func TestHEAD(t *testing.T) {
	f := newFull(t, fullConfig{stack: stackConfig{CheckpointInterval: 5 * time.Millisecond}})
	pages := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>notary</title>")}}
	url := serve(t, api.New(api.Config{Service: f.svc, Chain: f.chain, Database: f.db, Pages: pages}))
	d := randomDigest().String()
	submit(t, f.stack, d)
	waitCheckpoint(t, f.svc, 1)

	for _, path := range []string{
		"/", "/index.html", "/healthz", "/readyz", "/metrics",
		"/v1/checkpoint", "/v1/status", "/v1/keys", "/v1/anchors", "/v1/openapi.json",
		"/v1/timestamps/" + d, "/v1/timestamps/" + d + ".ots", "/v1/timestamps/" + randomDigest().String(),
		"/v1/timestamps/nope", "/v1/entries/0", "/v1/proofs/inclusion?index=0&size=1",
		"/v1/proofs/consistency?old=0&new=1", "/timestamp/" + d, "/timestamp/zz",
	} {
		get := doH(t, http.MethodGet, url+path, nil)
		head := doH(t, http.MethodHead, url+path, nil)
		if head.status != get.status || head.header.Get("Content-Type") != get.header.Get("Content-Type") {
			t.Errorf("HEAD %s: status %d, Content-Type %q; GET: %d, %q", path, head.status, head.header.Get("Content-Type"), get.status, get.header.Get("Content-Type"))
		}
		if len(head.body) != 0 {
			t.Errorf("HEAD %s: a body of %d bytes", path, len(head.body))
		}
	}
	// A path of no route is 404 to HEAD too, and a route that takes POST only refuses it.
	if r := doH(t, http.MethodHead, url+"/v1/checkpoint/x", nil); r.status != http.StatusNotFound {
		t.Errorf("HEAD /v1/checkpoint/x: status %d", r.status)
	}
	if r := doH(t, http.MethodHead, url+"/digest", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("HEAD /digest: status %d", r.status)
	}
}

// TestPagesNotFramed checks that the pages forbid framing, in the headers (a page's meta
// element cannot).
func TestPagesNotFramed(t *testing.T) {
	s := newStack(t, stackConfig{})
	pages := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>notary</title>")}, "style.css": {Data: []byte("p{}")}}
	url := serve(t, api.New(api.Config{Service: s.svc, Pages: pages}))
	for _, path := range []string{"/", "/index.html", "/style.css"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			r := doH(t, method, url+path, nil)
			if r.status != 200 || r.header.Get("Content-Security-Policy") != "frame-ancestors 'none'" || r.header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s %s: status %d, Content-Security-Policy %q, X-Frame-Options %q", method, path, r.status,
					r.header.Get("Content-Security-Policy"), r.header.Get("X-Frame-Options"))
			}
		}
	}
}

// TestCalendarRefusalsPlain checks that the calendar's refusals by the API's middleware
// (a bad key, the rate limit, a wrong method, a path too deep) are plain text, as its
// other answers.
func TestCalendarRefusalsPlain(t *testing.T) {
	s := newStack(t, stackConfig{})
	url := serve(t, api.New(api.Config{Service: s.svc, Keys: memKeys{"token-a": "a"},
		Limits: api.Limits{Anonymous: api.Rate{PerSecond: 0.001, Burst: 2}}}))
	digest := randomDigest()
	wantPlain := func(r reply, status int, contains string) {
		t.Helper()
		if r.status != status || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") ||
			!strings.Contains(string(r.body), contains) || bytes.HasPrefix(r.body, []byte("{")) {
			t.Errorf("status %d, Content-Type %q, body %q; want %d, text/plain, %q", r.status, r.header.Get("Content-Type"), r.body, status, contains)
		}
	}
	wantPlain(doH(t, http.MethodPost, url+"/digest", digest[:], "Authorization", "Bearer made-up"), 401, "unknown API key")
	wantPlain(doH(t, http.MethodGet, url+"/digest", nil), 405, "does not take that method")
	wantPlain(doH(t, http.MethodGet, url+fmt.Sprintf("/timestamp/%x/x", digest[:]), nil), 404, "no such endpoint")
	if r := doH(t, http.MethodPost, url+"/digest", digest[:]); r.status != 200 {
		t.Fatalf("POST /digest: status %d, %q", r.status, r.body)
	}
	r := doH(t, http.MethodGet, url+fmt.Sprintf("/timestamp/%x", digest[:]), nil)
	wantPlain(r, 429, "too many requests")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}
