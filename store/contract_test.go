package store

import (
	"path/filepath"
	"testing"

	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/service/storetest"
)

// TestContract runs the store contract suite on SQLite.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) service.Store {
		db, err := Open(filepath.Join(t.TempDir(), "notary.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
