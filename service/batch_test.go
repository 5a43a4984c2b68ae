package service_test

import (
	"context"
	"slices"
	"testing"

	"github.com/notary-dev/notary/notary"
)

func TestSubmitItems(t *testing.T) {
	ctx := context.Background()
	s, _ := newRunning(t)
	old, err := s.Submit(ctx, testDigest(1))
	if err != nil {
		t.Fatal(err)
	}
	ds := []notary.Digest{testDigest(2), testDigest(1), testDigest(3), testDigest(2)}
	items, err := s.SubmitItems(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 4 || items[1].Index != old.Entry.Index || items[1].LeafHash != old.Entry.LeafHash() || items[0] != items[3] {
		t.Fatalf("items %+v", items)
	}
	for i, it := range items {
		e, err := s.Lookup(ctx, ds[i])
		if err != nil {
			t.Fatal(err)
		}
		if it != notary.ItemOf(e.Entry) {
			t.Errorf("item %d is %+v, the entry gives %+v", i, it, notary.ItemOf(e.Entry))
		}
	}
	r, err := s.SignBatchReceipt(items)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := notary.OpenBatchReceipt([]byte(r.Note), logVkey, items); err != nil {
		t.Error(err)
	}
	// Entries already logged need no sequencer: the same items again.
	again, err := s.SubmitItems(ctx, ds)
	if err != nil || !slices.Equal(again, items) {
		t.Errorf("again: %v, %v", again, err)
	}
}
