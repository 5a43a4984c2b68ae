package store

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/notary-dev/notary/service"
)

func TestAPIKeys(t *testing.T) {
	db, path := openTest(t)
	ctx := t.Context()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	ci, ops := sha256.Sum256([]byte("token ci")), sha256.Sum256([]byte("token ops"))
	if err := db.CreateAPIKey(ctx, "ci", ci, "https://ci.example/hook", now); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAPIKey(ctx, "ops", ops, "", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		hash [32]byte
	}{{"ci", sha256.Sum256([]byte("other"))}, {"new", ci}} {
		if err := db.CreateAPIKey(ctx, tt.name, tt.hash, "", now); !errors.Is(err, ErrKeyExists) {
			t.Errorf("CreateAPIKey(%s) of a taken name or token: %v", tt.name, err)
		}
	}
	name, webhook, revoked, err := db.APIKeyByHash(ctx, ci)
	if err != nil || name != "ci" || webhook != "https://ci.example/hook" || revoked {
		t.Errorf("APIKeyByHash = %q, %q, %v, %v", name, webhook, revoked, err)
	}
	if _, _, _, err := db.APIKeyByHash(ctx, sha256.Sum256([]byte("nope"))); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
	if err := db.RevokeAPIKey(ctx, "ops", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeAPIKey(ctx, "ops", now.Add(2*time.Hour)); err != nil {
		t.Errorf("revoking again: %v", err)
	}
	if err := db.RevokeAPIKey(ctx, "nobody", now); !errors.Is(err, service.ErrNotFound) {
		t.Errorf("revoking an unknown key: %v", err)
	}
	if _, _, revoked, err := db.APIKeyByHash(ctx, ops); !revoked || err != nil {
		t.Errorf("revoked key: revoked %v, %v", revoked, err)
	}
	// Kept across a reopen, with the first revocation time.
	db.Close()
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys, err := db.APIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]APIKey{
		{ID: 1, Name: "ci", Webhook: "https://ci.example/hook", Created: now},
		{ID: 2, Name: "ops", Created: now.Add(time.Second), Revoked: now.Add(time.Hour)},
	})
	if fmt.Sprint(keys) != want {
		t.Errorf("APIKeys = %v\nwant %v", keys, want)
	}
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
