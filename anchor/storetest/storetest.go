// Package storetest is the contract test suite of anchor.Store: every store (SQLite,
// PostgreSQL) runs it, so that the anchorer sees one behaviour whatever keeps its state.
package storetest

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/notary-dev/notary/anchor"
)

// Stores opens the stores the suite runs on.
type Stores struct {
	// Open returns a new, empty store.
	Open func(t *testing.T) anchor.Store
	// Reopen closes the store Open returned last and opens it again, as a restart would.
	Reopen func(t *testing.T) anchor.Store
	// FailRecord makes the store Open returned last fail to write the record of anchor id,
	// as a failing disk would (a trigger that aborts the insert).
	FailRecord func(t *testing.T, id int64)
	// ErrorPrefix starts every error of the store, saying whose it is.
	ErrorPrefix string
}

// Run runs the contract tests, on one store from s.Open, in order: each step starts from
// the state the one before left.
func Run(t *testing.T, s Stores) {
	ctx := context.Background()
	st := s.Open(t)
	load := func(t *testing.T, st anchor.Store) ([]anchor.StoredRecord, []byte) {
		t.Helper()
		records, wallet, err := st.LoadAnchorState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return records, wallet
	}
	// Records compare by ID and bytes; a record's data is never nil once stored.
	equalRecords := func(a, b []anchor.StoredRecord) bool {
		return slices.EqualFunc(a, b, func(x, y anchor.StoredRecord) bool {
			return x.ID == y.ID && bytes.Equal(x.Data, y.Data) && x.Data != nil
		})
	}

	t.Run("Empty", func(t *testing.T) {
		records, wallet := load(t, st)
		if records != nil || wallet != nil {
			t.Fatalf("LoadAnchorState of an empty store = %v, %v; want nil, nil", records, wallet)
		}
		if err := st.SaveAnchorState(ctx, nil, nil); err != nil {
			t.Fatal(err)
		}
	})

	big := bytes.Repeat([]byte{0, 0xff}, 50_000)
	one, three := anchor.StoredRecord{ID: 1, Data: []byte("one")}, anchor.StoredRecord{ID: 3, Data: []byte("three")}
	replaced, empty := anchor.StoredRecord{ID: 1, Data: []byte("one, replaced")}, anchor.StoredRecord{ID: 2, Data: []byte{}}
	bigThree, second := anchor.StoredRecord{ID: 3, Data: big}, anchor.StoredRecord{ID: 4, Data: []byte("second")}
	steps := []struct {
		name        string
		records     []anchor.StoredRecord
		wallet      []byte
		wantRecords []anchor.StoredRecord
		wantWallet  []byte
	}{
		{
			name:        "RecordsWithoutWallet",
			records:     []anchor.StoredRecord{three, one},
			wantRecords: []anchor.StoredRecord{one, three},
		},
		{
			name:        "WalletOnly",
			wallet:      []byte("coins v1"),
			wantRecords: []anchor.StoredRecord{one, three},
			wantWallet:  []byte("coins v1"),
		},
		{
			name:        "ReplaceAndInsert",
			records:     []anchor.StoredRecord{replaced, {ID: 2, Data: nil}}, // nil data is stored empty
			wallet:      []byte("coins v2"),
			wantRecords: []anchor.StoredRecord{replaced, empty, three},
			wantWallet:  []byte("coins v2"),
		},
		{
			name:        "NilWalletKeepsTheSavedOne",
			records:     []anchor.StoredRecord{bigThree},
			wantRecords: []anchor.StoredRecord{replaced, empty, bigThree},
			wantWallet:  []byte("coins v2"),
		},
		{
			name:        "OneIDTwiceTheSecondStays",
			records:     []anchor.StoredRecord{{ID: 4, Data: []byte("first")}, second},
			wantRecords: []anchor.StoredRecord{replaced, empty, bigThree, second},
			wantWallet:  []byte("coins v2"),
		},
		{
			name:        "EmptyWalletIsNotNil",
			wallet:      []byte{},
			wantRecords: []anchor.StoredRecord{replaced, empty, bigThree, second},
			wantWallet:  []byte{},
		},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			if err := st.SaveAnchorState(ctx, step.records, step.wallet); err != nil {
				t.Fatal(err)
			}
			records, wallet := load(t, st)
			if !equalRecords(records, step.wantRecords) {
				t.Errorf("records = %.40v, want %.40v", records, step.wantRecords)
			}
			if !bytes.Equal(wallet, step.wantWallet) || (wallet == nil) != (step.wantWallet == nil) {
				t.Errorf("wallet = %q, want %q", wallet, step.wantWallet)
			}
		})
	}

	t.Run("OneTransaction", func(t *testing.T) {
		// A record that fails to be written takes the others and the wallet with it.
		s.FailRecord(t, 9)
		err := st.SaveAnchorState(ctx, []anchor.StoredRecord{{ID: 8, Data: []byte("eight")}, {ID: 9}}, []byte("coins v3"))
		if err == nil {
			t.Fatal("SaveAnchorState succeeded despite the failed record")
		}
		if !strings.HasPrefix(err.Error(), s.ErrorPrefix) {
			t.Errorf("error %q lacks the %q prefix", err, s.ErrorPrefix)
		}
		records, wallet := load(t, st)
		if len(records) != 4 || !bytes.Equal(wallet, []byte{}) {
			t.Fatalf("after a failed save: %d records, wallet %q; want the previous state", len(records), wallet)
		}
	})

	t.Run("SurvivesReopening", func(t *testing.T) {
		want, wantWallet := load(t, st)
		records, wallet := load(t, s.Reopen(t))
		if !equalRecords(records, want) || !bytes.Equal(wallet, wantWallet) || wallet == nil {
			t.Fatalf("after reopening: %.40v, %q; want %.40v, %q", records, wallet, want, wantWallet)
		}
	})
}
