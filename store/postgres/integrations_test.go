package postgres

import (
	"strconv"
	"testing"

	"github.com/notary-dev/notary/anchor"
	anchorstoretest "github.com/notary-dev/notary/anchor/storetest"
	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/api/keystoretest"
	"github.com/notary-dev/notary/webhook"
)

// The interfaces the API, webhook delivery and the anchorer take of a store.
var (
	_ api.KeyStore  = (*DB)(nil)
	_ api.Pinger    = (*DB)(nil)
	_ webhook.Store = (*DB)(nil)
	_ anchor.Store  = (*DB)(nil)
)

// reopener opens a new PostgreSQL store, and reopens it: the Open and Reopen of the
// contract suites.
type reopener struct {
	dsn string
	db  *DB
}

func (r *reopener) open(t *testing.T) *DB {
	r.db, r.dsn = openTest(t)
	return r.db
}

func (r *reopener) reopen(t *testing.T) *DB {
	r.db.Close()
	r.db = openDSN(t, r.dsn)
	return r.db
}

// TestAPIKeyContract runs the API key store contract suite on PostgreSQL.
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
}

// TestAnchorContract runs the anchor store contract suite on PostgreSQL.
func TestAnchorContract(t *testing.T) {
	var r reopener
	anchorstoretest.Run(t, anchorstoretest.Stores{
		Open:        func(t *testing.T) anchor.Store { return r.open(t) },
		Reopen:      func(t *testing.T) anchor.Store { return r.reopen(t) },
		FailRecord:  func(t *testing.T, id int64) { failInsert(t, r.dsn, "anchors", "NEW.id = "+strconv.FormatInt(id, 10)) },
		ErrorPrefix: "store/postgres: ",
	})
}
