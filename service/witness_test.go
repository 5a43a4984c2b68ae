package service_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/witness"
)

// switchWitness cosigns every checkpoint it is sent while up, with torchwood's signer, and
// answers 503 while down. It does not check consistency: the protocol is tested against
// litewitness (cmd/notary); here the service's use of the answers is.
type switchWitness struct {
	down   atomic.Bool
	signer *torchwood.CosignatureSigner
	mu     sync.Mutex
	known  int64
}

func (w *switchWitness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if w.down.Load() {
		http.Error(rw, "down", http.StatusServiceUnavailable)
		return
	}
	head, signed, _ := bytes.Cut(body, []byte("\n\n"))
	old, _ := strconv.ParseInt(strings.TrimPrefix(strings.Split(string(head), "\n")[0], "old "), 10, 64)
	w.mu.Lock()
	defer w.mu.Unlock()
	if old != w.known {
		rw.WriteHeader(http.StatusConflict)
		rw.Write([]byte(strconv.FormatInt(w.known, 10) + "\n"))
		return
	}
	text := string(signed[:bytes.Index(signed, []byte("\n\n"))+1])
	out, err := note.Sign(&note.Note{Text: text}, w.signer)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	w.known, _ = strconv.ParseInt(strings.Split(text, "\n")[1], 10, 64)
	rw.Write(out[bytes.LastIndex(out, []byte("\n\n"))+2:])
}

// TestWitnessedPublishing checks what the service publishes with a witness: the cosigned
// checkpoint once it cosigned, pending proofs in it, the checkpoint as signed while the
// witness is down (and the last cosigned one still in proofs), and never a smaller size.
func TestWitnessedPublishing(t *testing.T) {
	ctx := context.Background()
	s, err := torchwood.NewCosignatureSigner("w.example", ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	fw := &switchWitness{signer: s}
	srv := httptest.NewServer(fw)
	t.Cleanup(srv.Close)
	w, err := witness.Parse("w " + srv.URL + " " + s.Verifier().String())
	if err != nil {
		t.Fatal(err)
	}
	pool, err := witness.New(witness.Config{Witnesses: []witness.Witness{w}})
	if err != nil {
		t.Fatal(err)
	}
	keys := []*notary.CosignatureVerifier{w.Key}
	cfg := testConfig(t, openStore(t, filepath.Join(t.TempDir(), "notary.db")))
	cfg.Witnesses = pool
	svc := start(t, newService(t, cfg))

	var lastPublished atomic.Int64
	watch := func() notary.Checkpoint {
		cp := svc.PublishedCheckpoint()
		if prev := lastPublished.Swap(cp.Size); cp.Size < prev {
			t.Errorf("the published checkpoint went from size %d to %d", prev, cp.Size)
		}
		return cp
	}
	cosigned := func(cp notary.Checkpoint) bool {
		_, err := notary.CheckCosignatures(cp.Note, keys, 1)
		return err == nil
	}

	ts, err := svc.Submit(ctx, testDigest(1))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a cosigned checkpoint covering the entry", func() bool {
		cp := watch()
		return cp.Size > ts.Entry.Index && cosigned(cp)
	})
	got, err := svc.TimestampAt(ctx, ts.Entry.Index)
	if err != nil {
		t.Fatal(err)
	}
	if !cosigned(*got.Checkpoint) {
		t.Errorf("the pending proof's checkpoint is not cosigned:\n%s", got.Proof.Log.Checkpoint)
	}
	if _, err := notary.VerifyWitnesses(got.Proof, keys, 1); err != nil {
		t.Errorf("VerifyWitnesses of the pending proof: %v", err)
	}
	before, _ := svc.CosignedCheckpoint()

	// The witness goes down: the log goes on, publishing as it signs.
	fw.down.Store(true)
	ts2, err := svc.Submit(ctx, testDigest(2))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new checkpoint published without cosignatures", func() bool {
		cp := watch()
		return cp.Size > ts2.Entry.Index && !cosigned(cp)
	})
	if after, _ := svc.CosignedCheckpoint(); after.Size != before.Size {
		t.Errorf("the cosigned checkpoint moved from %d to %d while the witness was down", before.Size, after.Size)
	}
	if st, _ := svc.Witnesses(); st[0].Error == "" || st[0].CosignedSize != before.Size {
		t.Errorf("witness status %+v, want its error and cosigned size %d", st[0], before.Size)
	}
	if got, err := svc.TimestampAt(ctx, ts2.Entry.Index); err != nil || got.Proof == nil || cosigned(*got.Checkpoint) {
		t.Errorf("the new entry's proof: %v, %v", got, err)
	}

	// It comes back: the same size is cosigned on a retry, with no new entry.
	fw.down.Store(false)
	eventually(t, "the checkpoint cosigned again", func() bool {
		cp := watch()
		return cp.Size > ts2.Entry.Index && cosigned(cp)
	})
}
