package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/service"
)

// TestLookupWhileIndexRebuilt: a process that follows the log answers a lookup of a digest
// it cannot find with 503 busy and Retry-After, not 404, while the digest index lags the
// log by more than MaxUnindexed (as while the writer rebuilds it).
func TestLookupWhileIndexRebuilt(t *testing.T) {
	ctx := context.Background()
	s := newStack(t, stackConfig{})
	s.stop(t) // the writer is gone; its log grows below without its index
	log := logtest.NewMemLog(t, 20)
	if err := s.db.AppendEntries(ctx, log.Entries, log.Hashes[:merkle.StoredHashCount(20)]); err != nil {
		t.Fatal(err)
	}
	f, err := service.NewFollower(ctx, service.Config{Signer: s.signer, Verifier: s.vkey, Store: s.db, MaxUnindexed: 5})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, api.New(api.Config{Service: f}))

	r := do(t, http.DefaultClient, http.MethodGet, url+"/v1/timestamps/"+log.Entries[12].Digest.String(), "", nil)
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("status %d, body %q: %v", r.status, r.body, err)
	}
	if r.status != http.StatusServiceUnavailable || body.Error.Code != "busy" || r.header.Get("Retry-After") != "5" {
		t.Fatalf("lookup while the index lags: %d %s, Retry-After %q; want 503 busy, 5", r.status, r.body, r.header.Get("Retry-After"))
	}
}
