package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/strictjson"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

func batchJSON(digests ...string) []byte {
	b, _ := json.Marshal(map[string][]string{"digests": digests})
	return b
}

// postBatch submits a batch and decodes the answer, failing unless it is 200.
func postBatch(t *testing.T, url string, body []byte) api.BatchView {
	t.Helper()
	r := do(t, http.DefaultClient, http.MethodPost, url+"/v1/timestamps/batch", "application/json", body)
	if r.status != http.StatusOK {
		t.Fatalf("status %d, body %.300s", r.status, r.body)
	}
	var v api.BatchView
	if err := strictjson.Decode(r.body, &v); err != nil {
		t.Fatalf("answer %.300s: %v", r.body, err)
	}
	return v
}

// itemsOf returns the batch items an answer lists.
func itemsOf(t *testing.T, v api.BatchView) []notary.BatchItem {
	t.Helper()
	items := make([]notary.BatchItem, len(v.Receipts))
	for i, r := range v.Receipts {
		d, err := notary.ParseDigest(r.Digest)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := merkle.ParseHash(r.LeafHash)
		if err != nil {
			t.Fatal(err)
		}
		if r.Received.UnixMilli() != r.ReceivedMS || r.Received.Location() != time.UTC {
			t.Errorf("item %d: received %v and %d ms differ", i, r.Received, r.ReceivedMS)
		}
		items[i] = notary.BatchItem{Index: r.Index, ReceivedMS: r.ReceivedMS, Digest: d, LeafHash: leaf}
	}
	return items
}

func TestBatchSubmit(t *testing.T) {
	s := newStack(t, stackConfig{CheckpointInterval: 5 * time.Millisecond})
	old := randomDigest()
	oldReceipt, _ := submit(t, s, old.String())

	const n = 1000
	digests := make([]string, n)
	for i := range digests {
		digests[i] = randomDigest().String()
	}
	digests[10] = old.String()                 // logged before: keeps its first entry
	digests[20] = strings.ToUpper(digests[19]) // repeated within the batch, in upper case
	before := time.Now()
	v := postBatch(t, s.url, batchJSON(digests...))
	after := time.Now()

	if len(v.Receipts) != n {
		t.Fatalf("%d receipts for %d digests", len(v.Receipts), n)
	}
	items := itemsOf(t, v)
	for i, it := range items {
		if want := strings.ToLower(digests[i]); it.Digest.String() != want {
			t.Errorf("item %d is for digest %s, want %s", i, it.Digest, want)
		}
	}
	if items[10].Index != oldReceipt.Index || items[10].ReceivedMS != oldReceipt.ReceivedMS || items[10].LeafHash.String() != oldReceipt.LeafHash {
		t.Errorf("a digest logged before got %+v, want its first entry %+v", items[10], oldReceipt)
	}
	if items[20] != items[19] {
		t.Errorf("a digest repeated within the batch got two entries: %+v and %+v", items[19], items[20])
	}
	// The new entries follow the old one, in order, received during the request.
	next := oldReceipt.Index + 1
	for i, it := range items {
		if i == 10 || i == 20 {
			continue
		}
		if it.Index != next {
			t.Errorf("item %d has index %d, want %d", i, it.Index, next)
		}
		next++
		if it.ReceivedMS < before.UnixMilli() || it.ReceivedMS > after.UnixMilli() {
			t.Errorf("item %d received at %d ms, outside the request", i, it.ReceivedMS)
		}
	}
	if got := s.svc.Size(); got != next {
		t.Errorf("the log has %d entries, want %d", got, next)
	}

	t.Run("batch receipt", func(t *testing.T) {
		r, err := notary.OpenBatchReceipt([]byte(v.Batch.Note), s.vkey, items)
		if err != nil {
			t.Fatalf("OpenBatchReceipt: %v", err)
		}
		if r.Count != n || v.Batch.Count != n || r.Origin != s.signer.Name() || v.Batch.Origin != r.Origin || v.Batch.Key != s.vkey {
			t.Errorf("batch receipt %+v; JSON %+v", r, v.Batch)
		}
		if want := fmt.Sprintf("%08x", s.signer.KeyHash()); v.Batch.KeyID != want {
			t.Errorf("key_id %s, want %s", v.Batch.KeyID, want)
		}
		if sum := notary.HashBatchItems(items); v.Batch.ItemsHash != fmt.Sprintf("%x", sum) {
			t.Errorf("items_hash %s, want %x", v.Batch.ItemsHash, sum)
		}
		if !strings.HasPrefix(v.Batch.Note, "notary-batch-receipt/v1\n") {
			t.Errorf("note %q", v.Batch.Note)
		}
		// Not a checkpoint.
		if _, err := notary.OpenCheckpoint([]byte(v.Batch.Note), s.vkey); err == nil {
			t.Error("the batch receipt opens as a checkpoint")
		}
	})

	t.Run("each entry as the single endpoints give it", func(t *testing.T) {
		waitCheckpoint(t, s.svc, s.svc.Size())
		for _, i := range []int{0, 10, 19, n - 1} {
			ts := lookup(t, s, items[i].Digest.String())
			if ts.Index != items[i].Index || ts.ReceivedMS != items[i].ReceivedMS || ts.LeafHash != items[i].LeafHash.String() {
				t.Errorf("lookup of item %d gives %+v, the batch said %+v", i, ts, items[i])
			}
		}
	})

	t.Run("submitted again", func(t *testing.T) {
		again := postBatch(t, s.url, batchJSON(digests...))
		if again2 := itemsOf(t, again); fmt.Sprint(again2) != fmt.Sprint(items) {
			t.Errorf("the same batch again gives other entries")
		}
		if got := s.svc.Size(); got != next {
			t.Errorf("the log grew to %d", got)
		}
	})

	t.Run("answer is what encoding/json writes", func(t *testing.T) {
		r := do(t, http.DefaultClient, http.MethodPost, s.url+"/v1/timestamps/batch", "application/json", batchJSON(digests[:50]...))
		var v api.BatchView
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.body, want) {
			t.Errorf("answer\n%.400s\nre-encoded\n%.400s", r.body, want)
		}
	})

	t.Run("full batch", func(t *testing.T) {
		full := make([]string, api.MaxBatchDigests)
		for i := range full {
			full[i] = randomDigest().String()
		}
		r := do(t, http.DefaultClient, http.MethodPost, s.url+"/v1/timestamps/batch", "application/json", batchJSON(full...))
		var v api.BatchView
		if err := strictjson.Decode(r.body, &v); r.status != 200 || err != nil {
			t.Fatalf("status %d, %v", r.status, err)
		}
		if len(v.Receipts) != api.MaxBatchDigests {
			t.Fatalf("%d receipts", len(v.Receipts))
		}
		if _, err := notary.OpenBatchReceipt([]byte(v.Batch.Note), s.vkey, itemsOf(t, v)); err != nil {
			t.Fatal(err)
		}
		// Written in pieces, the answer is still what encoding/json writes.
		if want, err := json.Marshal(v); err != nil || !bytes.Equal(r.body, want) {
			t.Errorf("the answer of %d bytes is not what encoding/json writes (%v)", len(r.body), err)
		}
	})
}

func TestBatchSubmitRejects(t *testing.T) {
	s := newStack(t, stackConfig{})
	valid := randomDigest().String()
	many := make([]string, api.MaxBatchDigests+1)
	for i := range many {
		many[i] = valid
	}
	// A body just over the limit, made of white space after a valid batch.
	oversized := append(batchJSON(valid), bytes.Repeat([]byte(" "), api.MaxBatchBodySize)...)
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"malformed digest", "application/json", `{"digests": ["` + valid + `", "xyz"]}`, 400, "bad_digest"},
		{"63 characters", "application/json", `{"digests": ["` + valid[:63] + `"]}`, 400, "bad_digest"},
		{"escaped non-hex", "application/json", `{"digests": ["\u0067` + valid[1:] + `"]}`, 400, "bad_digest"},
		{"null digest", "application/json", `{"digests": [null]}`, 400, "bad_digest"},
		{"empty digest", "application/json", `{"digests": [""]}`, 400, "bad_digest"},
		{"too many digests", "application/json", string(batchJSON(many...)), 400, "too_many_digests"},
		{"no digests", "application/json", `{"digests": []}`, 400, "bad_request"},
		{"null digests", "application/json", `{"digests": null}`, 400, "bad_request"},
		{"empty object", "application/json", `{}`, 400, "bad_request"},
		{"digest as a number", "application/json", `{"digests": [1]}`, 400, "bad_json"},
		{"digests as a string", "application/json", `{"digests": "` + valid + `"}`, 400, "bad_json"},
		{"single digest field", "application/json", `{"digest": "` + valid + `"}`, 400, "bad_json"},
		{"unknown field", "application/json", `{"digests": ["` + valid + `"], "name": "x"}`, 400, "bad_json"},
		{"callback as a number", "application/json", `{"digests": ["` + valid + `"], "callback": 1}`, 400, "bad_json"},
		{"trailing comma", "application/json", `{"digests": ["` + valid + `",]}`, 400, "bad_json"},
		{"unclosed array", "application/json", `{"digests": ["` + valid + `"`, 400, "bad_json"},
		{"unclosed string", "application/json", `{"digests": ["` + valid, 400, "bad_json"},
		{"trailing garbage", "application/json", `{"digests": ["` + valid + `"]} x`, 400, "bad_json"},
		{"array body", "application/json", `["` + valid + `"]`, 400, "bad_json"},
		{"empty body", "application/json", ``, 400, "bad_json"},
		{"not JSON", "application/json", `digests=` + valid, 400, "bad_json"},
		{"callback without a server to call it", "application/json", `{"digests": ["` + valid + `"], "callback": "https://example.com/hook"}`, 400, "bad_callback"},
		{"no content type", "", string(batchJSON(valid)), 415, "unsupported_media_type"},
		{"oversized body", "application/json", string(oversized), 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, http.DefaultClient, http.MethodPost, s.url+"/v1/timestamps/batch", tt.contentType, []byte(tt.body))
			if msg := wantError(t, r, tt.status, tt.code); goName.MatchString(msg) {
				t.Errorf("message %q names the server's Go types", msg)
			}
		})
	}
	if n := s.svc.Size(); n != 0 {
		t.Errorf("the log has %d entries after only rejected batches", n)
	}
	t.Run("a body of exactly the limit is read", func(t *testing.T) {
		body := batchJSON(valid)
		body = append(body, bytes.Repeat([]byte(" "), api.MaxBatchBodySize-len(body))...)
		r := do(t, http.DefaultClient, http.MethodPost, s.url+"/v1/timestamps/batch", "application/json", body)
		if r.status != http.StatusOK {
			t.Errorf("status %d, body %.200s", r.status, r.body)
		}
	})
	t.Run("the single endpoint keeps its limit", func(t *testing.T) {
		body := append(submitBody(valid), bytes.Repeat([]byte(" "), api.MaxBodySize)...)
		r := do(t, http.DefaultClient, http.MethodPost, s.url+"/v1/timestamps", "application/json", body)
		wantError(t, r, 413, "body_too_large")
	})
}
