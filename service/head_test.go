package service_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

func openHead(t *testing.T, path string) *service.HeadFile {
	t.Helper()
	h, err := service.OpenHeadFile(path, logVkey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestHeadFile checks that a head file keeps the greatest checkpoint recorded, across a
// reopen and a torn write of either slot, and refuses a file of another key.
func TestHeadFile(t *testing.T) {
	log := newMemLog(t, 9)
	sign := func(size int64) notary.Checkpoint {
		cp, err := notary.SignCheckpoint(size, log.Root(t, size), newSigner(t, logSkey))
		if err != nil {
			t.Fatal(err)
		}
		return cp
	}
	path := filepath.Join(t.TempDir(), "signed-head")
	h := openHead(t, path)
	if _, err := h.Latest(); err == nil {
		t.Fatal("a new head file has a latest checkpoint")
	}
	for _, size := range []int64{3, 7, 5} {
		if err := h.Record(sign(size)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := h.Latest(); err != nil || got.Size != 7 {
		t.Fatalf("Latest = %d, %v; want 7, the greatest recorded", got.Size, err)
	}
	if err := h.Record(sign(8)); err != nil {
		t.Fatal(err)
	}
	h.Close()
	if got, err := openHead(t, path).Latest(); err != nil || got.Size != 8 {
		t.Fatalf("reopened: Latest = %d, %v; want 8", got.Size, err)
	}

	for slot, want := range map[int]int64{0: 7, 1: 8} {
		// The slot that holds the other checkpoint survives a torn write of this one.
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		torn := filepath.Join(t.TempDir(), "torn")
		data = append([]byte{}, data...)
		copy(data[slot*4096+40:], "garbage in the middle of a note")
		if err := os.WriteFile(torn, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := openHead(t, torn).Latest(); err != nil || got.Size != want {
			t.Errorf("slot %d torn: Latest = %d, %v; want %d", slot, got.Size, err, want)
		}
	}

	if _, err := service.OpenHeadFile(path, "notary.example/other+e784a5df+ATMGrA50yNSDUqUvB5flY5eb4a6BWsfrn7Vk8W2Daj1c"); err == nil {
		t.Error("a head file opened with another log's key")
	}
}

// TestServiceRefusesStoreBehindSignedHead checks that a store that lost acknowledged
// entries — replaced by an empty or an older copy — is refused at start when the head
// file remembers a greater signed checkpoint, with an error that says what was expected
// and what was found, and that the service records every receipt's checkpoint there.
func TestServiceRefusesStoreBehindSignedHead(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	headPath := filepath.Join(dir, "signed-head")
	dbPath := filepath.Join(dir, "notary.db")

	db := openStore(t, dbPath)
	cfg := testConfig(t, db)
	cfg.CheckpointInterval = 1 << 40 // only receipts sign checkpoints
	cfg.SignedHead = openHead(t, headPath)
	s := start(t, newService(t, cfg))
	old := filepath.Join(dir, "old.db")
	if _, err := s.SubmitEntries(ctx, digests("before the copy", 5)); err != nil {
		t.Fatal(err)
	}
	if err := db.Backup(ctx, old); err != nil {
		t.Fatal(err)
	}
	ts, err := s.Submit(ctx, testDigest(77))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := cfg.SignedHead.Latest(); err != nil || got.Size != ts.Checkpoint.Size {
		t.Fatalf("the head file holds size %d (%v) after a receipt of size %d", got.Size, err, ts.Checkpoint.Size)
	}
	s.stop(t)
	db.Close()
	cfg.SignedHead.(*service.HeadFile).Close()

	for name, path := range map[string]string{"older copy": old, "empty database": filepath.Join(dir, "new.db")} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, openStore(t, path))
			cfg.SignedHead = openHead(t, headPath)
			_, err := service.New(ctx, cfg)
			if err == nil {
				t.Fatal("New started on a database behind the signed head")
			}
			if !strings.Contains(err.Error(), "a checkpoint of size 6") || !strings.Contains(err.Error(), "refusing to start") {
				t.Errorf("New: %v; want it to name the signed size 6 and refuse", err)
			}
		})
	}
}
