package store

import (
	"path/filepath"
	"testing"

	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/service/storetest"
)

// TestContract runs the store contract suite on SQLite.
func TestContract(t *testing.T) {
	var path string
	open := func(t *testing.T, p string) service.Store {
		db, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	storetest.Run(t, storetest.Stores{
		Open:        func(t *testing.T) service.Store { path = filepath.Join(t.TempDir(), "notary.db"); return open(t, path) },
		Reopen:      func(t *testing.T) service.Store { return open(t, path) },
		ErrorPrefix: "store: ",
	})
}
