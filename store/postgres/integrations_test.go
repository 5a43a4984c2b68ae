package postgres

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/webhook"
)

// The interfaces the API takes of a store.
var (
	_ api.KeyStore  = (*DB)(nil)
	_ webhook.Store = (*DB)(nil)
)

func TestAPIKeys(t *testing.T) {
	db, dsn := openTest(t)
	ctx := t.Context()
	now := time.UnixMilli(1_700_000_000_000).UTC()
	ci, ops := sha256.Sum256([]byte("token ci")), sha256.Sum256([]byte("token ops"))
	if keys, err := db.APIKeys(ctx); keys != nil || err != nil {
		t.Errorf("APIKeys of an empty store = %v, %v", keys, err)
	}
	if err := db.CreateAPIKey(ctx, "ops", ops, "", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateAPIKey(ctx, "ci", ci, "https://ci.example/hook", now); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name, key string
		hash      [32]byte
		wantErr   error // nil: any error that is not ErrKeyExists
	}{
		{"taken name", "ci", sha256.Sum256([]byte("other")), ErrKeyExists},
		{"taken token", "new", ci, ErrKeyExists},
		{"empty name", "", sha256.Sum256([]byte("a")), nil},
		{"long name", strings.Repeat("n", 65), sha256.Sum256([]byte("b")), nil},
	} {
		t.Run("refused/"+tt.name, func(t *testing.T) {
			err := db.CreateAPIKey(ctx, tt.key, tt.hash, "", now)
			switch {
			case err == nil:
				t.Fatal("CreateAPIKey succeeded")
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("CreateAPIKey: %v, want %v", err, tt.wantErr)
			case tt.wantErr == nil && errors.Is(err, ErrKeyExists):
				t.Errorf("CreateAPIKey: %v, want another error", err)
			}
		})
	}

	for _, tt := range []struct {
		name          string
		hash          [32]byte
		key, webhook  string
		revoked, lost bool
	}{
		{"valid with a webhook", ci, "ci", "https://ci.example/hook", false, false},
		{"valid without", ops, "ops", "", false, false},
		{"unknown", sha256.Sum256([]byte("nope")), "", "", false, true},
	} {
		t.Run("by hash/"+tt.name, func(t *testing.T) {
			name, webhook, revoked, err := db.APIKeyByHash(ctx, tt.hash)
			if tt.lost {
				if !errors.Is(err, service.ErrNotFound) {
					t.Errorf("APIKeyByHash: %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil || name != tt.key || webhook != tt.webhook || revoked != tt.revoked {
				t.Errorf("APIKeyByHash = %q, %q, %v, %v", name, webhook, revoked, err)
			}
		})
	}

	for _, tt := range []struct {
		name, key string
		at        time.Time
		notFound  bool
	}{
		{"revoke", "ops", now.Add(time.Hour), false},
		{"revoke again", "ops", now.Add(2 * time.Hour), false},
		{"unknown", "nobody", now, true},
	} {
		t.Run("revoke/"+tt.name, func(t *testing.T) {
			err := db.RevokeAPIKey(ctx, tt.key, tt.at)
			if tt.notFound != errors.Is(err, service.ErrNotFound) || (!tt.notFound && err != nil) {
				t.Errorf("RevokeAPIKey(%s): %v", tt.key, err)
			}
		})
	}
	if _, _, revoked, err := db.APIKeyByHash(ctx, ops); !revoked || err != nil {
		t.Errorf("revoked key: revoked %v, %v", revoked, err)
	}
	if err := db.CreateAPIKey(ctx, "ops", sha256.Sum256([]byte("token ops 2")), "", now); !errors.Is(err, ErrKeyExists) {
		t.Errorf("the name of a revoked key was taken again: %v", err)
	}

	// Kept across a reopen, by name, with the first revocation time.
	db.Close()
	db = openDSN(t, dsn)
	keys, err := db.APIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]APIKey{
		{ID: 2, Name: "ci", Webhook: "https://ci.example/hook", Created: now},
		{ID: 1, Name: "ops", Created: now.Add(time.Second), Revoked: now.Add(time.Hour)},
	})
	if fmt.Sprint(keys) != want {
		t.Errorf("APIKeys = %v\nwant %v", keys, want)
	}
}
