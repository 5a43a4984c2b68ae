package notary_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/notary"
)

// batchItems returns n made-up items.
func batchItems(n int) []notary.BatchItem {
	items := make([]notary.BatchItem, n)
	for i := range items {
		e := testEntry(int64(i))
		items[i] = notary.ItemOf(e)
	}
	return items
}

func TestHashBatchItems(t *testing.T) {
	// The bytes hashed, spelled out as docs/api.md specifies them.
	items := batchItems(200) // more than the hashing buffer holds
	h := sha256.New()
	for _, it := range items {
		var b [notary.BatchItemSize]byte
		binary.BigEndian.PutUint64(b[0:], uint64(it.Index))
		binary.BigEndian.PutUint64(b[8:], uint64(it.ReceivedMS))
		copy(b[16:], it.Digest[:])
		copy(b[48:], it.LeafHash[:])
		h.Write(b[:])
	}
	if got, want := notary.HashBatchItems(items), h.Sum(nil); !slices.Equal(got[:], want) {
		t.Errorf("HashBatchItems = %x, want %x", got, want)
	}
}

func TestBatchReceipt(t *testing.T) {
	signer := newSigner(t, logSkey)
	items := batchItems(5)
	r, err := notary.SignBatchReceipt(signer.Name(), items, signer)
	if err != nil {
		t.Fatal(err)
	}
	sum := notary.HashBatchItems(items)
	wantText := "notary-batch-receipt/v1\nnotary.example/log\n5\n" + hex.EncodeToString(sum[:]) + "\n"
	if !strings.HasPrefix(r.Note, wantText+"\n— notary.example/log ") {
		t.Errorf("note %q, want text %q", r.Note, wantText)
	}
	got, err := notary.OpenBatchReceipt([]byte(r.Note), logVkey, items)
	if err != nil {
		t.Fatalf("OpenBatchReceipt: %v", err)
	}
	if got.Origin != "notary.example/log" || got.Count != 5 || got.ItemsHash != sum || got.KeyID != signer.KeyHash() || !slices.Equal(got.Signature, r.Signature) || len(got.Signature) != 64 {
		t.Errorf("opened %+v", got)
	}

	changed := func(f func(items []notary.BatchItem) []notary.BatchItem) []notary.BatchItem {
		return f(slices.Clone(items))
	}
	mismatches := []struct {
		name  string
		items []notary.BatchItem
	}{
		{"index changed", changed(func(it []notary.BatchItem) []notary.BatchItem { it[2].Index++; return it })},
		{"time changed", changed(func(it []notary.BatchItem) []notary.BatchItem { it[0].ReceivedMS--; return it })},
		{"digest changed", changed(func(it []notary.BatchItem) []notary.BatchItem { it[4].Digest[31] ^= 1; return it })},
		{"leaf changed", changed(func(it []notary.BatchItem) []notary.BatchItem { it[1].LeafHash[0] ^= 1; return it })},
		{"swapped", changed(func(it []notary.BatchItem) []notary.BatchItem { it[0], it[1] = it[1], it[0]; return it })},
		{"one missing", items[:4]},
		{"one more", append(slices.Clone(items), items[0])},
		{"none", nil},
	}
	for _, tt := range mismatches {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := notary.OpenBatchReceipt([]byte(r.Note), logVkey, tt.items); !errors.Is(err, notary.ErrBatchMismatch) {
				t.Errorf("error %v, want ErrBatchMismatch", err)
			}
		})
	}

	sign := func(text string, skey string) []byte {
		msg, err := note.Sign(&note.Note{Text: text}, newSigner(t, skey))
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	hexSum := hex.EncodeToString(sum[:])
	refused := []struct {
		name string
		note []byte
		vkey string
	}{
		{"another key with the log's name", sign(wantText, forgerSkey), logVkey},
		{"another log's key", []byte(r.Note), otherVkey},
		{"another log's batch", sign("notary-batch-receipt/v1\nnotary.example/other\n5\n"+hexSum+"\n", otherSkey), otherVkey + "x"},
		{"origin is not the key's", sign("notary-batch-receipt/v1\nnotary.example/other\n5\n"+hexSum+"\n", logSkey), logVkey},
		{"count 05", sign("notary-batch-receipt/v1\nnotary.example/log\n05\n"+hexSum+"\n", logSkey), logVkey},
		{"count 0", sign("notary-batch-receipt/v1\nnotary.example/log\n0\n"+hexSum+"\n", logSkey), logVkey},
		{"upper-case hash", sign("notary-batch-receipt/v1\nnotary.example/log\n5\n"+strings.ToUpper(hexSum)+"\n", logSkey), logVkey},
		{"short hash", sign("notary-batch-receipt/v1\nnotary.example/log\n5\n"+hexSum[:62]+"\n", logSkey), logVkey},
		{"extra line", sign(wantText+"x\n", logSkey), logVkey},
		{"other header", sign("notary-batch-receipt/v2\nnotary.example/log\n5\n"+hexSum+"\n", logSkey), logVkey},
		{"a checkpoint", mustCheckpoint(t, signer), logVkey},
		{"garbage", []byte("notary-batch-receipt/v1\n"), logVkey},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := notary.OpenBatchReceipt(tt.note, tt.vkey, items); err == nil || errors.Is(err, notary.ErrBatchMismatch) {
				t.Errorf("error %v, want a refusal", err)
			}
		})
	}
	t.Run("a batch receipt is not a checkpoint", func(t *testing.T) {
		if cp, err := notary.OpenCheckpoint([]byte(r.Note), logVkey); err == nil {
			t.Errorf("OpenCheckpoint accepted the batch receipt as size %d, root %v", cp.Size, cp.Root)
		}
	})
	t.Run("sizes", func(t *testing.T) {
		if _, err := notary.SignBatchReceipt(signer.Name(), nil, signer); err == nil {
			t.Error("signed an empty batch")
		}
	})
}

func mustCheckpoint(t *testing.T, signer note.Signer) []byte {
	c, err := notary.SignCheckpoint(5, testEntry(1).LeafHash(), signer)
	if err != nil {
		t.Fatal(err)
	}
	return c.Note
}

func FuzzOpenBatchReceipt(f *testing.F) {
	signer := newSigner(f, logSkey)
	items := batchItems(3)
	r, err := notary.SignBatchReceipt(signer.Name(), items, signer)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(r.Note))
	f.Add([]byte("notary-batch-receipt/v1\nnotary.example/log\n3\n00\n\n— notary.example/log AAAA\n"))
	f.Fuzz(func(t *testing.T, signed []byte) {
		got, err := notary.OpenBatchReceipt(signed, logVkey, items)
		if err != nil {
			return
		}
		// Whatever opens is the one receipt signed above, byte for byte.
		if got.Note != r.Note || got.Count != 3 {
			t.Fatalf("opened %q as %+v", signed, got)
		}
	})
}
