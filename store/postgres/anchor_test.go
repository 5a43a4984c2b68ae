package postgres

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/notary-dev/notary/anchor"
)

func TestAnchorState(t *testing.T) {
	ctx := context.Background()
	db, dsn := openTest(t)

	load := func(t *testing.T, db *DB) ([]anchor.StoredRecord, []byte) {
		t.Helper()
		records, wallet, err := db.LoadAnchorState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return records, wallet
	}
	equalRecords := func(a, b []anchor.StoredRecord) bool {
		return slices.EqualFunc(a, b, func(x, y anchor.StoredRecord) bool {
			return x.ID == y.ID && bytes.Equal(x.Data, y.Data) && x.Data != nil
		})
	}

	t.Run("empty", func(t *testing.T) {
		records, wallet := load(t, db)
		if records != nil || wallet != nil {
			t.Fatalf("LoadAnchorState of an empty store = %v, %v; want nil, nil", records, wallet)
		}
		if err := db.SaveAnchorState(ctx, nil, nil); err != nil {
			t.Fatal(err)
		}
	})

	big := bytes.Repeat([]byte{0, 0xff}, 50_000)
	steps := []struct {
		name        string
		records     []anchor.StoredRecord
		wallet      []byte
		wantRecords []anchor.StoredRecord
		wantWallet  []byte
	}{
		{
			name:        "records without wallet",
			records:     []anchor.StoredRecord{{ID: 3, Data: []byte("three")}, {ID: 1, Data: []byte("one")}},
			wantRecords: []anchor.StoredRecord{{ID: 1, Data: []byte("one")}, {ID: 3, Data: []byte("three")}},
		},
		{
			name:        "wallet only",
			wallet:      []byte("coins v1"),
			wantRecords: []anchor.StoredRecord{{ID: 1, Data: []byte("one")}, {ID: 3, Data: []byte("three")}},
			wantWallet:  []byte("coins v1"),
		},
		{
			name:        "replace and insert",
			records:     []anchor.StoredRecord{{ID: 1, Data: []byte("one, replaced")}, {ID: 2, Data: nil}},
			wallet:      []byte("coins v2"),
			wantRecords: []anchor.StoredRecord{{ID: 1, Data: []byte("one, replaced")}, {ID: 2, Data: []byte{}}, {ID: 3, Data: []byte("three")}},
			wantWallet:  []byte("coins v2"),
		},
		{
			name:        "nil wallet keeps the saved one",
			records:     []anchor.StoredRecord{{ID: 3, Data: big}},
			wantRecords: []anchor.StoredRecord{{ID: 1, Data: []byte("one, replaced")}, {ID: 2, Data: []byte{}}, {ID: 3, Data: big}},
			wantWallet:  []byte("coins v2"),
		},
		{
			name:        "one ID twice: the second stays",
			records:     []anchor.StoredRecord{{ID: 4, Data: []byte("first")}, {ID: 4, Data: []byte("second")}},
			wantRecords: []anchor.StoredRecord{{ID: 1, Data: []byte("one, replaced")}, {ID: 2, Data: []byte{}}, {ID: 3, Data: big}, {ID: 4, Data: []byte("second")}},
			wantWallet:  []byte("coins v2"),
		},
		{
			name:        "empty wallet is not nil",
			wallet:      []byte{},
			wantRecords: []anchor.StoredRecord{{ID: 1, Data: []byte("one, replaced")}, {ID: 2, Data: []byte{}}, {ID: 3, Data: big}, {ID: 4, Data: []byte("second")}},
			wantWallet:  []byte{},
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := db.SaveAnchorState(ctx, s.records, s.wallet); err != nil {
				t.Fatal(err)
			}
			records, wallet := load(t, db)
			if !equalRecords(records, s.wantRecords) {
				t.Errorf("records = %.40v, want %.40v", records, s.wantRecords)
			}
			if !bytes.Equal(wallet, s.wantWallet) || (wallet == nil) != (s.wantWallet == nil) {
				t.Errorf("wallet = %q, want %q", wallet, s.wantWallet)
			}
		})
	}

	t.Run("one transaction", func(t *testing.T) {
		// A record that fails to be written must take the others and the wallet with it.
		failInsert(t, dsn, "anchors", "NEW.id = 9")
		err := db.SaveAnchorState(ctx, []anchor.StoredRecord{{ID: 8, Data: []byte("eight")}, {ID: 9}}, []byte("coins v3"))
		if err == nil {
			t.Fatal("SaveAnchorState succeeded despite the trigger")
		}
		if !strings.HasPrefix(err.Error(), "store/postgres: ") {
			t.Errorf("error %q lacks the store/postgres: prefix", err)
		}
		records, wallet := load(t, db)
		if len(records) != 4 || !bytes.Equal(wallet, []byte{}) {
			t.Fatalf("after a failed save: %d records, wallet %q; want the previous state", len(records), wallet)
		}
	})

	t.Run("survives reopening", func(t *testing.T) {
		want, wantWallet := load(t, db)
		db.Close()
		db2 := openDSN(t, dsn)
		records, wallet := load(t, db2)
		if !equalRecords(records, want) || !bytes.Equal(wallet, wantWallet) || wallet == nil {
			t.Fatalf("after reopening: %.40v, %q; want %.40v, %q", records, wallet, want, wantWallet)
		}
	})
}
