package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/notary"
)

// TestProofDocument checks GET /v1/timestamps/{digest}/proof: the proof alone, the very
// document the lookup's proof member holds, which notary.ParseProof reads as a file; 503
// with Retry-After before a checkpoint includes the entry; the lookup's errors otherwise.
func TestProofDocument(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackConfig{CheckpointInterval: 10 * time.Millisecond})
	d := randomDigest()
	submit(t, s, d.String())
	var ts timestampReply
	waitUntil(t, "proof of the entry logged", func() bool {
		ts = lookup(t, s, d.String())
		return ts.Proof != nil
	})
	for _, path := range []string{d.String(), strings.ToUpper(d.String())} {
		r := do(t, http.DefaultClient, http.MethodGet, s.url+"/v1/timestamps/"+path+"/proof", "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET /v1/timestamps/%s/proof: status %d, body %q", path, r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="`+d.String()+`.proof.json"` {
			t.Errorf("Content-Disposition %q", cd)
		}
		p, err := notary.ParseProof(r.body)
		if err != nil {
			t.Fatalf("the proof document does not parse as a proof file: %v\n%s", err, r.body)
		}
		if p.Digest != d || p.Complete() {
			t.Errorf("proof of %s, complete %v; want the pending proof of %s", p.Digest, p.Complete(), d)
		}
		var fromLookup, alone bytes.Buffer
		if err := json.Compact(&fromLookup, ts.Proof); err != nil {
			t.Fatal(err)
		}
		if err := json.Compact(&alone, r.body); err != nil {
			t.Fatal(err)
		}
		if fromLookup.String() != alone.String() {
			t.Errorf("the proof document differs from the lookup's proof member:\n%s\n%s", alone.String(), fromLookup.String())
		}
	}
	unknown := randomDigest().String()
	wantError(t, do(t, http.DefaultClient, http.MethodGet, s.url+"/v1/timestamps/"+unknown+"/proof", "", nil), 404, "not_found")
	wantError(t, do(t, http.DefaultClient, http.MethodGet, s.url+"/v1/timestamps/"+unknown[:63]+"/proof", "", nil), 400, "bad_digest")
	wantError(t, do(t, http.DefaultClient, http.MethodGet, s.url+"/v1/timestamps/"+d.String()+"/proof/extra", "", nil), 404, "not_found")
}

// TestProofDocumentBeforeCheckpoint checks that a digest no checkpoint includes yet is
// answered 503 with Retry-After, not a proof nor "not found".
func TestProofDocumentBeforeCheckpoint(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackConfig{CheckpointInterval: time.Hour})
	d := randomDigest()
	submit(t, s, d.String())
	r := do(t, http.DefaultClient, http.MethodGet, s.url+"/v1/timestamps/"+d.String()+"/proof", "", nil)
	if msg := wantError(t, r, http.StatusServiceUnavailable, "busy"); !strings.Contains(msg, "ask again") {
		t.Errorf("message %q does not say to ask again", msg)
	}
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", r.header.Get("Retry-After"))
	}
}
