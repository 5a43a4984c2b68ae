// Package keystoretest is the contract test suite of a store of API keys: the lookup the
// API makes (api.KeyStore) and the management `notary apikey` does. Every store (SQLite,
// PostgreSQL) runs it, so that a key behaves the same whatever keeps it.
package keystoretest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/service"
)

// Store is what the suite takes of a store of API keys.
type Store interface {
	api.KeyStore
	// CreateAPIKey stores a new key; a name or token taken, even by a revoked key, gives
	// an error wrapping the store's "exists" error.
	CreateAPIKey(ctx context.Context, name string, tokenHash [32]byte, webhook string, now time.Time) error
	// RevokeAPIKey revokes the key of name, keeping its first revocation time; an unknown
	// name gives an error wrapping service.ErrNotFound.
	RevokeAPIKey(ctx context.Context, name string, now time.Time) error
}

// Key is a stored key as the suite compares it.
type Key struct {
	ID      int64
	Name    string
	Webhook string
	Created time.Time
	Revoked time.Time // zero while the key is valid
}

// Stores opens the stores the suite runs on.
type Stores struct {
	// Open returns a new, empty store.
	Open func(t *testing.T) Store
	// Reopen closes the store Open returned last and opens it again, as a restart would.
	Reopen func(t *testing.T) Store
	// List returns every key of st, by name (the store's APIKeys).
	List func(t *testing.T, st Store) []Key
	// Exists is the error CreateAPIKey wraps for a name or token taken.
	Exists error
}

// Run runs the contract tests on one store from s.Open, in order.
func Run(t *testing.T, s Stores) {
	ctx := context.Background()
	st := s.Open(t)
	now := time.UnixMilli(1_700_000_000_000).UTC()
	ci, ops := sha256.Sum256([]byte("token ci")), sha256.Sum256([]byte("token ops"))
	if keys := s.List(t, st); len(keys) != 0 {
		t.Errorf("the keys of an empty store: %v", keys)
	}
	if err := st.CreateAPIKey(ctx, "ops", ops, "", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAPIKey(ctx, "ci", ci, "https://ci.example/hook", now); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name, key string
		hash      [32]byte
		exists    bool // the error is Exists; else any other
	}{
		{"TakenName", "ci", sha256.Sum256([]byte("other")), true},
		{"TakenToken", "new", ci, true},
		{"EmptyName", "", sha256.Sum256([]byte("a")), false},
		{"LongName", strings.Repeat("n", 65), sha256.Sum256([]byte("b")), false},
	} {
		t.Run("Refused/"+tt.name, func(t *testing.T) {
			err := st.CreateAPIKey(ctx, tt.key, tt.hash, "", now)
			switch {
			case err == nil:
				t.Fatal("CreateAPIKey succeeded")
			case tt.exists != errors.Is(err, s.Exists):
				t.Errorf("CreateAPIKey: %v; want it to wrap %v: %v", err, s.Exists, tt.exists)
			}
		})
	}

	for _, tt := range []struct {
		name          string
		hash          [32]byte
		key, webhook  string
		revoked, lost bool
	}{
		{"ValidWithAWebhook", ci, "ci", "https://ci.example/hook", false, false},
		{"ValidWithout", ops, "ops", "", false, false},
		{"Unknown", sha256.Sum256([]byte("nope")), "", "", false, true},
	} {
		t.Run("ByHash/"+tt.name, func(t *testing.T) {
			name, webhook, revoked, err := st.APIKeyByHash(ctx, tt.hash)
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
		{"Revoke", "ops", now.Add(time.Hour), false},
		{"RevokeAgain", "ops", now.Add(2 * time.Hour), false},
		{"Unknown", "nobody", now, true},
	} {
		t.Run("Revoke/"+tt.name, func(t *testing.T) {
			err := st.RevokeAPIKey(ctx, tt.key, tt.at)
			if tt.notFound != errors.Is(err, service.ErrNotFound) || (!tt.notFound && err != nil) {
				t.Errorf("RevokeAPIKey(%s): %v", tt.key, err)
			}
		})
	}
	if _, _, revoked, err := st.APIKeyByHash(ctx, ops); !revoked || err != nil {
		t.Errorf("revoked key: revoked %v, %v", revoked, err)
	}
	if err := st.CreateAPIKey(ctx, "ops", sha256.Sum256([]byte("token ops 2")), "", now); !errors.Is(err, s.Exists) {
		t.Errorf("the name of a revoked key was taken again: %v", err)
	}

	// Kept across a reopen, by name, with the first revocation time.
	keys := s.List(t, s.Reopen(t))
	want := fmt.Sprint([]Key{
		{ID: 2, Name: "ci", Webhook: "https://ci.example/hook", Created: now},
		{ID: 1, Name: "ops", Created: now.Add(time.Second), Revoked: now.Add(time.Hour)},
	})
	if fmt.Sprint(keys) != want {
		t.Errorf("APIKeys = %v\nwant %v", keys, want)
	}
}
