package api_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
)

// TestLookupWhileIndexRebuilt: a process that follows the log answers a lookup of a digest
// it cannot find with 503 busy and Retry-After, not 404, while the digest index lags the
// log by more than MaxUnindexed (as while the writer rebuilds it).
func TestLookupWhileIndexRebuilt(t *testing.T) {
	ctx := context.Background()
	skey, vkey, err := note.GenerateKey(rand.Reader, "notary.test/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "notary.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := service.Config{Signer: signer, Verifier: vkey, Store: db}
	if _, err := service.New(ctx, cfg); err != nil { // signs the empty log's checkpoint
		t.Fatal(err)
	}
	log := logtest.NewMemLog(t, 20)
	if err := db.AppendEntries(ctx, log.Entries, log.Hashes[:merkle.StoredHashCount(20)]); err != nil {
		t.Fatal(err)
	}
	cfg.MaxUnindexed = 5
	f, err := service.NewFollower(ctx, cfg)
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
