package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/service"
)

// createKey stores an API key and returns its token.
func createKey(t *testing.T, f *full, name, webhook string) string {
	t.Helper()
	token := "notary_test_" + name + "_" + randomDigest().String()[:16]
	if err := f.db.CreateAPIKey(t.Context(), name, sha256.Sum256([]byte(token)), webhook, time.Now()); err != nil {
		t.Fatal(err)
	}
	return token
}

func TestAPIKeys(t *testing.T) {
	f := newFull(t, fullConfig{})
	good := createKey(t, f, "ci", "")
	revoked := createKey(t, f, "old", "")
	if err := f.db.RevokeAPIKey(t.Context(), "old", time.Now()); err != nil {
		t.Fatal(err)
	}
	body := func() []byte { return submitBody(randomDigest().String()) }

	r := doH(t, http.MethodPost, f.url+"/v1/timestamps", body(), "Content-Type", "application/json", "Authorization", "Bearer "+good)
	if r.status != 200 {
		t.Errorf("valid key: status %d, body %s", r.status, r.body)
	}
	r = doH(t, http.MethodPost, f.url+"/v1/timestamps", body(), "Content-Type", "application/json", "Authorization", "bearer  "+good)
	if r.status != 200 {
		t.Errorf("valid key, scheme in lower case: status %d, body %s", r.status, r.body)
	}
	tests := []struct {
		name, header string
	}{
		{"unknown token", "Bearer notary_nope"},
		{"revoked token", "Bearer " + revoked},
		{"no token", "Bearer "},
		{"basic auth", "Basic dXNlcjpwYXNz"},
		{"token without scheme", good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, req := range []struct{ method, path string }{
				{http.MethodPost, "/v1/timestamps"}, {http.MethodGet, "/v1/status"}, {http.MethodGet, "/v1/checkpoint"},
			} {
				r := doH(t, req.method, f.url+req.path, body(), "Content-Type", "application/json", "Authorization", tt.header)
				wantError(t, r, 401, "bad_api_key")
				if r.header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s %s: no WWW-Authenticate", req.method, req.path)
				}
			}
		})
	}
	t.Run("revocation takes effect", func(t *testing.T) {
		k := createKey(t, f, "soon-revoked", "")
		if r := doH(t, http.MethodGet, f.url+"/v1/status", nil, "Authorization", "Bearer "+k); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		if err := f.db.RevokeAPIKey(t.Context(), "soon-revoked", time.Now()); err != nil {
			t.Fatal(err)
		}
		// Refused once the key cache lets go of it (seconds); patience only bounds a hang.
		deadline := time.Now().Add(patience)
		for doH(t, http.MethodGet, f.url+"/v1/status", nil, "Authorization", "Bearer "+k).status != 401 {
			if time.Now().After(deadline) {
				t.Fatalf("a revoked key is still accepted %v later", patience)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	t.Run("without a key store", func(t *testing.T) {
		wantError(t, doH(t, http.MethodGet, f.stack.url+"/v1/status", nil, "Authorization", "Bearer "+good), 401, "bad_api_key")
	})
}

// memKeys is a KeyStore in memory: token to name.
type memKeys map[string]string

func (k memKeys) APIKeyByHash(_ context.Context, hash [32]byte) (string, string, bool, error) {
	for token, name := range k {
		if sha256.Sum256([]byte(token)) == hash {
			return name, "", false, nil
		}
	}
	return "", "", false, fmt.Errorf("no such key: %w", service.ErrNotFound)
}

// TestRateLimits runs the API on synctest's clock: a burst takes no time at all however
// slow the machine, so the bucket cannot refill in the middle of it, and a wait of
// Retry-After is exactly that. The handler is called directly, with no network (which the
// fake clock does not allow); its keys are in memory.
func TestRateLimits(t *testing.T) {
	s := newStack(t, stackConfig{})
	synctest.Test(t, func(t *testing.T) {
		h := api.New(api.Config{Service: s.svc, Keys: memKeys{"token-a": "a", "token-b": "b"}, Limits: api.Limits{
			Anonymous: api.Rate{PerSecond: 0.5, Burst: 3},
			Key:       api.Rate{PerSecond: 0.5, Burst: 6},
		}})
		call := func(method, path string, body []byte, headers ...string) reply {
			req := httptest.NewRequest(method, path, bytes.NewReader(body)) // from 192.0.2.1
			for i := 0; i < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return reply{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
		}
		get := func(headers ...string) reply { return call(http.MethodGet, "/v1/checkpoint", nil, headers...) }

		for i := range 3 {
			if r := get(); r.status != 200 {
				t.Fatalf("anonymous request %d: status %d", i, r.status)
			}
		}
		r := get()
		wantError(t, r, 429, "rate_limited")
		retry, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || retry != 2 {
			t.Errorf("Retry-After %q, want 2 (seconds): one request at 0.5 a second", r.header.Get("Retry-After"))
		}
		if r.header.Get("Access-Control-Expose-Headers") == "" {
			t.Error("a refusal does not expose Retry-After to pages")
		}
		// Other endpoints share the address's bucket; submissions are refused before they are read.
		wantError(t, call(http.MethodPost, "/v1/timestamps", submitBody(randomDigest().String()), "Content-Type", "application/json"), 429, "rate_limited")
		if n := s.svc.Size(); n != 0 {
			t.Errorf("a refused submission was logged")
		}

		// An API key has its own, larger bucket, whatever the address has used.
		for i := range 6 {
			if r := get("Authorization", "Bearer token-a"); r.status != 200 {
				t.Fatalf("request %d with key a: status %d", i, r.status)
			}
		}
		wantError(t, get("Authorization", "Bearer token-a"), 429, "rate_limited")
		// Each key has its own bucket.
		if r := get("Authorization", "Bearer token-b"); r.status != 200 {
			t.Errorf("key b refused after key a ran out: status %d", r.status)
		}
		// A bad key is refused as such, not rate limited nor served as anonymous.
		wantError(t, get("Authorization", "Bearer nope"), 401, "bad_api_key")

		// The bucket refills: a client that waits as long as Retry-After said is served.
		time.Sleep(time.Duration(retry) * time.Second)
		if r := get(); r.status != 200 {
			t.Errorf("status %d after waiting %d s", r.status, retry)
		}
		wantError(t, get(), 429, "rate_limited")

		// Preflight is not limited.
		for range 5 {
			r := call(http.MethodOptions, "/v1/timestamps", nil,
				"Origin", "https://example.org", "Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "content-type, authorization")
			if r.status != http.StatusNoContent {
				t.Errorf("preflight: status %d", r.status)
			}
		}
	})
}

func TestRateLimitByForwardedAddress(t *testing.T) {
	s := newStack(t, stackConfig{})
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	limits := api.Limits{Anonymous: api.Rate{PerSecond: 0.01, Burst: 1}}
	behindProxy := serve(t, api.New(api.Config{Service: s.svc, Limits: limits, TrustedProxies: []*net.IPNet{loopback}}))
	direct := serve(t, api.New(api.Config{Service: s.svc, Limits: limits}))

	get := func(url, forwarded string) int {
		return doH(t, http.MethodGet, url+"/v1/checkpoint", nil, "X-Forwarded-For", forwarded).status
	}
	// Behind a trusted proxy, each forwarded client has its own bucket.
	if get(behindProxy, "203.0.113.1") != 200 || get(behindProxy, "203.0.113.2") != 200 {
		t.Error("two clients behind the proxy share a bucket")
	}
	if get(behindProxy, "203.0.113.1") != 429 {
		t.Error("a client behind the proxy is not limited")
	}
	// IPv6 clients are limited by /64.
	if get(behindProxy, "2001:db8:1:2::1") != 200 || get(behindProxy, "2001:db8:1:2::ffff") != 429 {
		t.Error("two addresses of one IPv6 /64 do not share a bucket")
	}
	// Without trusted proxies, X-Forwarded-For is ignored: it cannot buy a fresh bucket.
	if get(direct, "203.0.113.1") != 200 || get(direct, "203.0.113.2") != 429 {
		t.Error("a forged X-Forwarded-For gets a fresh bucket")
	}
}

func TestCORS(t *testing.T) {
	f := newFull(t, fullConfig{})
	t.Run("preflight", func(t *testing.T) {
		for _, path := range []string{"/v1/timestamps", "/v1/timestamps/batch", "/v1/status"} {
			r := doH(t, http.MethodOptions, f.url+path, nil,
				"Origin", "https://third-party.example", "Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "authorization, content-type")
			h := r.header
			if r.status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
				h.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type, Accept" ||
				h.Get("Access-Control-Allow-Methods") != "GET, POST" || h.Get("Access-Control-Max-Age") == "" {
				t.Errorf("%s: status %d, headers %v", path, r.status, h)
			}
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("%s: credentials allowed", path)
			}
		}
	})
	t.Run("answers", func(t *testing.T) {
		for _, r := range []reply{
			doH(t, http.MethodGet, f.url+"/v1/status", nil, "Origin", "https://third-party.example"),
			doH(t, http.MethodGet, f.url+"/v1/status", nil),
			doH(t, http.MethodGet, f.url+"/v1/timestamps/nope", nil, "Origin", "https://third-party.example"),
			doH(t, http.MethodPost, f.url+"/v1/timestamps", submitBody(randomDigest().String()), "Content-Type", "application/json", "Origin", "null"),
		} {
			if r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Access-Control-Expose-Headers") != "Retry-After, Content-Disposition, WWW-Authenticate" {
				t.Errorf("status %d: CORS headers %v", r.status, r.header)
			}
			for _, v := range r.header.Values("Vary") {
				if strings.Contains(v, "Origin") {
					t.Errorf("Vary %v: the answer does not depend on the origin", v)
				}
			}
		}
	})
}
