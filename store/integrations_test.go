package store

import (
	"path/filepath"
	"testing"

	"github.com/notary-dev/notary/anchor"
	anchorstoretest "github.com/notary-dev/notary/anchor/storetest"
	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/api/keystoretest"
)

// The interfaces the API and the anchorer take of a store.
var (
	_ api.KeyStore = (*DB)(nil)
	_ api.Pinger   = (*DB)(nil)
	_ anchor.Store = (*DB)(nil)
)

// reopener opens a new SQLite store, and reopens it: the Open and Reopen of the contract suites.
type reopener struct {
	path string
	db   *DB
}

func (r *reopener) open(t *testing.T) *DB {
	r.path = filepath.Join(t.TempDir(), "notary.db")
	return r.reopen(t)
}

func (r *reopener) reopen(t *testing.T) *DB {
	if r.db != nil {
		r.db.Close()
	}
	db, err := Open(r.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r.db = db
	return db
}

// TestAPIKeyContract runs the API key store contract suite on SQLite.
func TestAPIKeyContract(t *testing.T) {
	var r reopener
	keystoretest.Run(t, keystoretest.Stores{
		Open:   func(t *testing.T) keystoretest.Store { return r.open(t) },
		Reopen: func(t *testing.T) keystoretest.Store { return r.reopen(t) },
		List: func(t *testing.T, st keystoretest.Store) []keystoretest.Key {
			keys, err := st.(*DB).APIKeys(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var out []keystoretest.Key
			for _, k := range keys {
				out = append(out, keystoretest.Key(k))
			}
			return out
		},
		Exists: ErrKeyExists,
	})
	if err := r.db.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// TestAnchorContract runs the anchor store contract suite on SQLite.
func TestAnchorContract(t *testing.T) {
	var r reopener
	anchorstoretest.Run(t, anchorstoretest.Stores{
		Open:        func(t *testing.T) anchor.Store { return r.open(t) },
		Reopen:      func(t *testing.T) anchor.Store { return r.reopen(t) },
		FailRecord:  func(t *testing.T, id int64) { failInsert(t, r.db, "anchors", id) },
		ErrorPrefix: "store: ",
	})
}
