package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/strictjson"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
)

// wantError checks that r is the API's JSON error with the given status and code:
// exactly {"error": {"code": ..., "message": ...}} with a non-empty message, which it returns.
func wantError(t *testing.T, r reply, status int, code string) string {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d (body %q)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json (body %q)", ct, r.body)
	}
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := strictjson.Decode(r.body, &body); err != nil || body.Error == nil {
		t.Fatalf("error body %q is not {\"error\": {\"code\", \"message\"}}: %v", r.body, err)
	}
	if body.Error.Code != code {
		t.Errorf("error code %q, want %q (message %q)", body.Error.Code, code, body.Error.Message)
	}
	if body.Error.Message == "" {
		t.Errorf("error %q has no message", body.Error.Code)
	}
	return body.Error.Message
}

// goName matches a package-qualified Go identifier, which has no place in a message for clients.
var goName = regexp.MustCompile(`\b(api|notary|store|json|main)\.[A-Za-z]`)

// submit POSTs digest hex d and returns the receipt, failing the test unless the answer is 200.
func submit(t testing.TB, s *stack, d string) (timestampReply, []byte) {
	t.Helper()
	r := do(t, http.DefaultClient, http.MethodPost, s.url+"/v1/timestamps", "application/json", submitBody(d))
	if r.status != http.StatusOK {
		t.Fatalf("POST %s: status %d, body %q", d, r.status, r.body)
	}
	var v timestampReply
	if err := strictjson.Decode(r.body, &v); err != nil {
		t.Fatalf("receipt %q: %v", r.body, err)
	}
	return v, r.body
}

// checkReceipt checks every field of a receipt for digest d against its proof, which must
// verify: a pending proof in a checkpoint signed by the stack's key.
func checkReceipt(t *testing.T, s *stack, v timestampReply, d notary.Digest, notBefore, notAfter time.Time) {
	t.Helper()
	if v.Digest != d.String() || v.Status != service.StatusPending || v.Anchor != nil {
		t.Errorf("receipt for %s, status %q, anchor %v: want %s, pending, no anchor", v.Digest, v.Status, v.Anchor, d)
	}
	if v.Received.Location() != time.UTC || v.ReceivedMS != v.Received.UnixMilli() {
		t.Errorf("received %v (%d ms): want the same instant in UTC", v.Received, v.ReceivedMS)
	}
	if ms := v.ReceivedMS; ms < notBefore.UnixMilli() || ms > notAfter.UnixMilli() {
		t.Errorf("received at %d ms, outside the request's span [%d, %d]", ms, notBefore.UnixMilli(), notAfter.UnixMilli())
	}
	if want := fmt.Sprintf("%08x", s.signer.KeyHash()); v.KeyID != want {
		t.Errorf("key_id %q, want %q", v.KeyID, want)
	}
	p, err := notary.ParseProof(v.Proof)
	if err != nil {
		t.Fatalf("the receipt's proof does not parse: %v\n%s", err, v.Proof)
	}
	got, err := notary.Verify(p, p.OwnKey())
	if err != nil {
		t.Fatalf("the receipt's proof does not verify: %v", err)
	}
	if p.Log.Key != s.vkey || got.Origin != s.signer.Name() || got.Complete {
		t.Errorf("proof under key %q of log %q (complete %v): want pending under %q", p.Log.Key, got.Origin, got.Complete, s.vkey)
	}
	e, err := p.LogEntry()
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != d || got.Index != v.Index || got.Received.UnixMilli() != v.ReceivedMS ||
		e.LeafHash().String() != v.LeafHash || got.LogSize != v.LogSize {
		t.Errorf("the proof establishes %+v; the JSON fields say %+v", got, v)
	}
	cp, err := notary.OpenCheckpoint([]byte(p.Log.Checkpoint), s.vkey)
	if err != nil {
		t.Fatal(err)
	}
	_, sig, err := cp.Signature()
	if err != nil {
		t.Fatal(err)
	}
	if b, err := base64.StdEncoding.DecodeString(v.Signature); err != nil || !bytes.Equal(b, sig) || len(b) != 64 {
		t.Errorf("signature %q is not the checkpoint's Ed25519 signature", v.Signature)
	}
}

// sameEntry reports whether two answers are about the same entry.
func sameEntry(a, b timestampReply) bool {
	return a.Digest == b.Digest && a.Index == b.Index && a.ReceivedMS == b.ReceivedMS && a.LeafHash == b.LeafHash
}

func TestSubmit(t *testing.T) {
	s := newStack(t, stackConfig{})
	d := randomDigest()

	before := time.Now()
	first, firstBody := submit(t, s, d.String())
	checkReceipt(t, s, first, d, before, time.Now())
	if first.Index != 0 {
		t.Errorf("first digest of an empty log has index %d, want 0", first.Index)
	}

	tests := []struct {
		name        string
		contentType string
		digest      string
	}{
		{"same digest again", "application/json", d.String()},
		{"same digest in upper case", "application/json", strings.ToUpper(d.String())},
		{"content type with charset", "application/json; charset=utf-8", d.String()},
		{"content type in capitals", "Application/JSON", d.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, http.DefaultClient, http.MethodPost, s.url+"/v1/timestamps", tt.contentType, submitBody(tt.digest))
			if r.status != http.StatusOK {
				t.Fatalf("status %d, body %q", r.status, r.body)
			}
			var v timestampReply
			if err := strictjson.Decode(r.body, &v); err != nil {
				t.Fatalf("receipt %q: %v", r.body, err)
			}
			// The first entry, with a proof that may be in a later checkpoint.
			checkReceipt(t, s, v, d, before, time.Now())
			if !sameEntry(v, first) {
				t.Errorf("receipt\n%s\nwant the first one's entry\n%s", r.body, firstBody)
			}
		})
	}

	t.Run("new digest in upper case", func(t *testing.T) {
		d2 := randomDigest()
		before := time.Now()
		v, _ := submit(t, s, strings.ToUpper(d2.String()))
		checkReceipt(t, s, v, d2, before, time.Now())
		if v.Index != first.Index+1 {
			t.Errorf("index %d, want %d", v.Index, first.Index+1)
		}
	})

	t.Run("body of exactly MaxBodySize", func(t *testing.T) {
		d3 := randomDigest()
		body := submitBody(d3.String())
		body = append(body, bytes.Repeat([]byte(" "), api.MaxBodySize-len(body))...)
		r := do(t, http.DefaultClient, http.MethodPost, s.url+"/v1/timestamps", "application/json", body)
		if r.status != http.StatusOK {
			t.Fatalf("status %d, body %q", r.status, r.body)
		}
	})
}

func TestSubmitRejects(t *testing.T) {
	s := newStack(t, stackConfig{})
	valid := randomDigest().String()
	tooLarge := append([]byte(`{"digest": "`+valid+`"}`), bytes.Repeat([]byte(" "), api.MaxBodySize)...)

	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"empty digest", "application/json", `{"digest": ""}`, 400, "bad_digest"},
		{"null digest", "application/json", `{"digest": null}`, 400, "bad_digest"},
		{"no digest field", "application/json", `{}`, 400, "bad_digest"},
		{"63 characters", "application/json", `{"digest": "` + valid[:63] + `"}`, 400, "bad_digest"},
		{"65 characters", "application/json", `{"digest": "` + valid + `0"}`, 400, "bad_digest"},
		{"non-hex", "application/json", `{"digest": "` + "g" + valid[1:] + `"}`, 400, "bad_digest"},
		{"0x prefix", "application/json", `{"digest": "0x` + valid[2:] + `"}`, 400, "bad_digest"},
		{"surrounding spaces", "application/json", `{"digest": " ` + valid[1:] + `"}`, 400, "bad_digest"},
		{"base64 of 32 bytes", "application/json", `{"digest": "` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `"}`, 400, "bad_digest"},
		{"digest as a number", "application/json", `{"digest": 1234}`, 400, "bad_json"},
		{"digest as an array", "application/json", `{"digest": ["` + valid + `"]}`, 400, "bad_json"},
		{"body is an array", "application/json", `["` + valid + `"]`, 400, "bad_json"},
		{"body is a string", "application/json", `"` + valid + `"`, 400, "bad_json"},
		{"invalid JSON", "application/json", `{"digest": "` + valid + `"`, 400, "bad_json"},
		{"single quotes", "application/json", `{'digest': '` + valid + `'}`, 400, "bad_json"},
		{"trailing object", "application/json", `{"digest": "` + valid + `"} {}`, 400, "bad_json"},
		{"trailing garbage", "application/json", `{"digest": "` + valid + `"} x`, 400, "bad_json"},
		{"trailing brace", "application/json", `{"digest": "` + valid + `"}}`, 400, "bad_json"},
		{"trailing bracket", "application/json", `{"digest": "` + valid + `"}]`, 400, "bad_json"},
		{"unknown field", "application/json", `{"digest": "` + valid + `", "name": "contract.pdf"}`, 400, "bad_json"},
		{"empty body", "application/json", ``, 400, "bad_json"},
		{"blank body", "application/json", " \n\t", 400, "bad_json"},
		{"no content type", "", `{"digest": "` + valid + `"}`, 415, "unsupported_media_type"},
		{"text/plain", "text/plain", `{"digest": "` + valid + `"}`, 415, "unsupported_media_type"},
		{"form", "application/x-www-form-urlencoded", `digest=` + valid, 415, "unsupported_media_type"},
		{"JSON-like subtype", "application/merge-patch+json", `{"digest": "` + valid + `"}`, 415, "unsupported_media_type"},
		{"malformed content type", "application/json;;", `{"digest": "` + valid + `"}`, 415, "unsupported_media_type"},
		{"body over MaxBodySize", "application/json", string(tooLarge), 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, http.DefaultClient, http.MethodPost, s.url+"/v1/timestamps", tt.contentType, []byte(tt.body))
			if msg := wantError(t, r, tt.status, tt.code); goName.MatchString(msg) {
				t.Errorf("message %q names the server's Go types", msg)
			}
		})
	}
	// None of them logged anything, in particular not the valid digest of the rejected bodies.
	if n := s.svc.Size(); n != 0 {
		t.Errorf("the log has %d entries after only rejected submissions", n)
	}
}

// timestampReply is the JSON answer to GET /v1/timestamps/:digest, with the proof kept raw
// so that it goes through notary.ParseProof exactly as a client would save it.
type timestampReply struct {
	Digest     string          `json:"digest"`
	Status     service.Status  `json:"status"`
	Index      int64           `json:"index"`
	Received   time.Time       `json:"received"`
	ReceivedMS int64           `json:"received_ms"`
	LeafHash   string          `json:"leaf_hash"`
	LogSize    int64           `json:"log_size"`
	KeyID      string          `json:"key_id"`
	Signature  string          `json:"signature"`
	Anchor     *api.AnchorView `json:"anchor"`
	Proof      json.RawMessage `json:"proof"`
}

func lookup(t *testing.T, s *stack, d string) timestampReply {
	t.Helper()
	r := do(t, http.DefaultClient, http.MethodGet, s.url+"/v1/timestamps/"+d, "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %q", d, r.status, r.body)
	}
	var ts timestampReply
	if err := strictjson.Decode(r.body, &ts); err != nil {
		t.Fatalf("GET %s: %v in %q", d, err, r.body)
	}
	return ts
}

func TestLookupRejects(t *testing.T) {
	s := newStack(t, stackConfig{})
	valid := randomDigest().String()
	tests := []struct {
		name   string
		path   string
		status int
		code   string
	}{
		{"unknown digest", valid, 404, "not_found"},
		{"unknown digest in upper case", strings.ToUpper(valid), 404, "not_found"},
		{"63 characters", valid[:63], 400, "bad_digest"},
		{"65 characters", valid + "0", 400, "bad_digest"},
		{"non-hex", "g" + valid[1:], 400, "bad_digest"},
		{"escaped space", "%20" + valid[1:], 400, "bad_digest"},
		{"a word", "contract.pdf", 400, "bad_digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, http.DefaultClient, http.MethodGet, s.url+"/v1/timestamps/"+tt.path, "", nil)
			wantError(t, r, tt.status, tt.code)
		})
	}
}

func TestLookupBeforeCheckpoint(t *testing.T) {
	s := newStack(t, stackConfig{CheckpointInterval: time.Hour})
	d := randomDigest()
	receipt, _ := submit(t, s, d.String())

	ts := lookup(t, s, d.String())
	if ts.Status != service.StatusPending || ts.Anchor != nil || ts.Proof != nil {
		t.Errorf("status %q, anchor %v, proof %s: want pending with neither", ts.Status, ts.Anchor, ts.Proof)
	}
	if !sameEntry(ts, receipt) || ts.LogSize != 0 || ts.KeyID != "" || ts.Signature != "" {
		t.Errorf("lookup gives %+v; want the receipt's entry %+v without a checkpoint", ts, receipt)
	}
}

func TestLookupPendingProof(t *testing.T) {
	s := newStack(t, stackConfig{CheckpointInterval: 10 * time.Millisecond})
	var receipts []timestampReply
	var digests []notary.Digest
	for range 5 {
		d := randomDigest()
		v, _ := submit(t, s, d.String())
		digests, receipts = append(digests, d), append(receipts, v)
	}

	for i, d := range digests {
		t.Run(fmt.Sprintf("entry %d", i), func(t *testing.T) {
			// Poll until a checkpoint covers the entry.
			var ts timestampReply
			waitUntil(t, fmt.Sprintf("proof for entry %d", receipts[i].Index), func() bool {
				ts = lookup(t, s, strings.ToUpper(d.String()))
				return ts.Proof != nil
			})
			if ts.Status != service.StatusPending || ts.Anchor != nil {
				t.Errorf("status %q, anchor %v: want pending without an anchor", ts.Status, ts.Anchor)
			}
			if !sameEntry(ts, receipts[i]) {
				t.Errorf("lookup gives %+v; want the receipt's entry %+v", ts, receipts[i])
			}
			p, err := notary.ParseProof(ts.Proof)
			if err != nil {
				t.Fatalf("ParseProof: %v\n%s", err, ts.Proof)
			}
			if p.Complete() {
				t.Error("a proof without an anchor says it is complete")
			}
			v, err := notary.Verify(p, p.OwnKey())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if v.Digest != d || v.Index != receipts[i].Index || v.Complete || v.LogSize != ts.LogSize ||
				v.Key != s.vkey || v.Origin != s.signer.Name() || v.LogSize <= v.Index ||
				v.Received.UnixMilli() != receipts[i].ReceivedMS {
				t.Errorf("Verify established %+v", v)
			}
			// The log's checkpoint is now at least the one in the proof, and consistent with it.
			r := do(t, http.DefaultClient, http.MethodGet, s.url+"/v1/checkpoint", "", nil)
			cp, err := notary.OpenCheckpoint(r.body, s.vkey)
			if err != nil {
				t.Fatalf("GET /v1/checkpoint: %v", err)
			}
			if cp.Size < v.LogSize || (cp.Size == v.LogSize && cp.Root != v.LogRoot) {
				t.Errorf("checkpoint (%d, %s) after a proof against (%d, %s)", cp.Size, cp.Root, v.LogSize, v.LogRoot)
			}
		})
	}
}

func TestCheckpoint(t *testing.T) {
	s := newStack(t, stackConfig{CheckpointInterval: 10 * time.Millisecond})
	get := func(t *testing.T) notary.Checkpoint {
		t.Helper()
		r := do(t, http.DefaultClient, http.MethodGet, s.url+"/v1/checkpoint", "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("status %d, body %q", r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Content-Type %q, want text/plain", ct)
		}
		cp, err := notary.OpenCheckpoint(r.body, s.vkey)
		if err != nil {
			t.Fatalf("OpenCheckpoint(%q): %v", r.body, err)
		}
		if cp.Origin != s.signer.Name() {
			t.Errorf("origin %q, want %q", cp.Origin, s.signer.Name())
		}
		return cp
	}

	t.Run("empty log", func(t *testing.T) {
		if cp := get(t); cp.Size != 0 {
			t.Errorf("size %d, want 0", cp.Size)
		}
	})
	t.Run("after three entries", func(t *testing.T) {
		for range 3 {
			submit(t, s, randomDigest().String())
		}
		waitUntil(t, "checkpoint of size 3", func() bool {
			cp := get(t)
			if cp.Size > 3 {
				t.Fatalf("checkpoint size %d, want 3", cp.Size)
			}
			return cp.Size == 3
		})
	})
	t.Run("wrong key", func(t *testing.T) {
		other := newStack(t, stackConfig{})
		r := do(t, http.DefaultClient, http.MethodGet, s.url+"/v1/checkpoint", "", nil)
		if _, err := notary.OpenCheckpoint(r.body, other.vkey); err == nil {
			t.Error("the checkpoint opens with another log's key")
		}
	})
}

func TestRouting(t *testing.T) {
	s := newStack(t, stackConfig{})
	d := randomDigest().String()
	tests := []struct {
		name   string
		method string
		path   string
		status int
		code   string
	}{
		{"unknown route", "GET", "/v2/timestamps", 404, "not_found"},
		{"unknown route under /v1", "GET", "/v1/nothing", 404, "not_found"},
		{"root without pages", "GET", "/", 404, "not_found"},
		// Echo's last path parameter takes the rest of the path, slashes included: such
		// a path is no route's, whatever the parameter.
		{"too deep", "GET", "/v1/timestamps/" + d + "/proof", 404, "not_found"},
		{"too deep, not a digest", "GET", "/v1/timestamps/X/extra", 404, "not_found"},
		{"too deep, .ots", "GET", "/v1/timestamps/" + d + "/x.ots", 404, "not_found"},
		{"too deep, an entry", "GET", "/v1/entries/1/x", 404, "not_found"},
		{"GET the collection", "GET", "/v1/timestamps", 405, "method_not_allowed"},
		{"PUT the collection", "PUT", "/v1/timestamps", 405, "method_not_allowed"},
		{"DELETE a timestamp", "DELETE", "/v1/timestamps/" + d, 405, "method_not_allowed"},
		{"POST a timestamp", "POST", "/v1/timestamps/" + d, 405, "method_not_allowed"},
		{"POST the checkpoint", "POST", "/v1/checkpoint", 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, http.DefaultClient, tt.method, s.url+tt.path, "application/json", submitBody(d))
			wantError(t, r, tt.status, tt.code)
		})
	}
}

// TestRoutingWithPages checks that serving the web pages at / does not turn the API's own
// errors into the file server's plain-text ones.
func TestRoutingWithPages(t *testing.T) {
	s := newStack(t, stackConfig{})
	pages := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>notary</title>")}}
	url := serve(t, api.New(api.Config{Service: s.svc, Pages: pages}))

	t.Run("page", func(t *testing.T) {
		r := do(t, http.DefaultClient, "GET", url+"/", "", nil)
		if r.status != 200 || !bytes.Contains(r.body, []byte("<title>notary</title>")) {
			t.Errorf("GET /: status %d, body %q", r.status, r.body)
		}
	})
	t.Run("API still served", func(t *testing.T) {
		r := do(t, http.DefaultClient, "GET", url+"/v1/checkpoint", "", nil)
		if _, err := notary.OpenCheckpoint(r.body, s.vkey); err != nil {
			t.Errorf("GET /v1/checkpoint: %v", err)
		}
	})
	tests := []struct {
		name   string
		method string
		path   string
		status int
		code   string
	}{
		{"unknown API route", "GET", "/v1/nothing", 404, "not_found"},
		{"unknown API route, POST", "POST", "/v1/nothing", 404, "not_found"},
		{"API method not allowed", "DELETE", "/v1/timestamps", 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, http.DefaultClient, tt.method, url+tt.path, "", nil)
			wantError(t, r, tt.status, tt.code)
		})
	}
}

func TestShutdown(t *testing.T) {
	s := newStack(t, stackConfig{CheckpointInterval: time.Hour})

	// Acknowledge some digests, from concurrent clients so that they share commits.
	const n = 40
	var (
		acked    = map[notary.Digest]timestampReply{}
		wg       sync.WaitGroup
		digests  = make([]notary.Digest, n)
		receipts = make([]timestampReply, n)
	)
	for i := range n {
		digests[i] = randomDigest()
		wg.Go(func() {
			v, _ := submit(t, s, digests[i].String())
			receipts[i] = v
		})
	}
	wg.Wait()
	for i, d := range digests {
		acked[d] = receipts[i]
	}
	s.stop(t)

	t.Run("new digest refused", func(t *testing.T) {
		r := do(t, http.DefaultClient, http.MethodPost, s.url+"/v1/timestamps", "application/json", submitBody(randomDigest().String()))
		wantError(t, r, 503, "shutting_down")
	})
	t.Run("bad digest still a client error", func(t *testing.T) {
		r := do(t, http.DefaultClient, http.MethodPost, s.url+"/v1/timestamps", "application/json", submitBody("nope"))
		wantError(t, r, 400, "bad_digest")
	})

	t.Run("acknowledged digests are durable", func(t *testing.T) {
		checkDurable(t, s, acked)
	})
}

// TestShutdownUnderLoad shuts the service down while clients keep submitting: every answer
// is a receipt or 503 shutting_down, none hangs, and every receipt is in the reopened store.
func TestShutdownUnderLoad(t *testing.T) {
	s := newStack(t, stackConfig{CheckpointInterval: 5 * time.Millisecond})
	client := &http.Client{Timeout: patience} // none hangs
	const clients = 32
	var (
		mu    sync.Mutex
		acked = map[notary.Digest]timestampReply{}
		wg    sync.WaitGroup
		going = make(chan struct{}, clients) // one send from each client
		count = make(map[int]int)
	)
	for range clients {
		wg.Go(func() {
			signalled := false
			signal := func() {
				if !signalled {
					signalled = true
					going <- struct{}{}
				}
			}
			defer signal()
			for {
				d := randomDigest()
				req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/timestamps", bytes.NewReader(submitBody(d.String())))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("POST: %v", err)
					return
				}
				var body bytes.Buffer
				body.ReadFrom(resp.Body)
				resp.Body.Close()
				mu.Lock()
				count[resp.StatusCode]++
				mu.Unlock()
				switch resp.StatusCode {
				case http.StatusOK:
					var v timestampReply
					if err := strictjson.Decode(body.Bytes(), &v); err != nil {
						t.Errorf("receipt %q: %v", body.Bytes(), err)
						return
					}
					mu.Lock()
					acked[d] = v
					mu.Unlock()
				case http.StatusServiceUnavailable:
					return
				default:
					t.Errorf("status %d during shutdown, body %q", resp.StatusCode, body.Bytes())
					return
				}
				signal()
			}
		})
	}
	for range clients {
		<-going // every client has had one receipt (or has failed)
	}
	time.Sleep(20 * time.Millisecond)
	s.stop(t)
	wg.Wait()
	t.Logf("answers: %v; %d commits of %d entries in %v", count,
		s.store.appends.Load(), s.store.entries.Load(), time.Duration(s.store.nanos.Load()))
	checkDurable(t, s, acked)
}

// checkDurable closes the stack's store (its service must be stopped), reopens it in a new
// service and checks that every acknowledged receipt is there, unchanged, and in the last
// checkpoint that the stopped service published.
func checkDurable(t *testing.T, s *stack, acked map[notary.Digest]timestampReply) {
	t.Helper()
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(s.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	svc, err := service.New(ctx, service.Config{Signer: s.signer, Verifier: s.vkey, Store: db})
	if err != nil {
		t.Fatalf("reopening the service: %v", err)
	}
	if got, cp := svc.Size(), svc.LatestCheckpoint(); cp.Size != got {
		t.Errorf("the last checkpoint has size %d, the log %d", cp.Size, got)
	}
	if got := svc.Size(); got < int64(len(acked)) {
		t.Errorf("the reopened log has %d entries, %d were acknowledged", got, len(acked))
	}
	for d, want := range acked {
		ts, err := svc.Lookup(ctx, d)
		if err != nil {
			t.Errorf("acknowledged digest %s (index %d): %v", d, want.Index, err)
			continue
		}
		if ts.Entry.Index != want.Index || ts.Entry.Time.UnixMilli() != want.ReceivedMS || ts.Entry.LeafHash().String() != want.LeafHash {
			t.Errorf("digest %s: stored as index %d at %d ms; acknowledged as %d at %d ms",
				d, ts.Entry.Index, ts.Entry.Time.UnixMilli(), want.Index, want.ReceivedMS)
		}
	}
}
