package postgres

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// startService starts the service on db, stopped (and checked to stop cleanly) when the
// test ends or when the returned function is called.
func startService(t testing.TB, db *DB) (*service.Service, func()) {
	t.Helper()
	s, err := service.New(context.Background(), service.Config{
		Signer:             logtest.Signer(t, logtest.LogSkey),
		Verifier:           logtest.LogVkey,
		Store:              db,
		CheckpointInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return s, stop
}

// TestService runs the service on PostgreSQL: submissions one by one and in a batch,
// a restart that checks the stored log against its checkpoint, lookups through the
// digest index, and an audit of the whole store.
func TestService(t *testing.T) {
	ctx := context.Background()
	db, dsn := openTest(t)
	s, stop := startService(t, db)

	const singles, batch = 64, 5000
	var wg sync.WaitGroup
	entries := make([]notary.Entry, singles)
	for k := range singles {
		wg.Go(func() {
			ts, err := s.Submit(ctx, logtest.Digest(int64(k)))
			if err != nil {
				t.Error(err)
				return
			}
			if ts.Proof == nil {
				t.Errorf("digest %d: no receipt", k)
			}
			entries[k] = ts.Entry
		})
	}
	wg.Wait()
	ds := make([]notary.Digest, batch)
	for k := range ds {
		ds[k] = logtest.Digest(int64(singles - 10 + k)) // ten submitted before
	}
	batched, err := s.SubmitEntries(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 10 {
		if want := entries[singles-10+k]; batched[k] != want {
			t.Errorf("digest %d submitted again: entry %+v, want its first %+v", singles-10+k, batched[k], want)
		}
	}
	size := s.Size()
	if want := int64(singles + batch - 10); size != want {
		t.Fatalf("log size %d, want %d", size, want)
	}
	stop()

	// Another process takes over the database: it checks the stored log against the
	// checkpoint and finds every digest.
	db.Close()
	db = openDSN(t, dsn)
	s, stop = startService(t, db)
	if s.Size() != size {
		t.Fatalf("log size %d after a restart, want %d", s.Size(), size)
	}
	// The entries come with the digests' lookups (an EntryLookupStore): they are the
	// entries the submissions logged, with proofs that verify.
	for _, k := range []int64{0, singles - 1, singles + 100, singles + batch - 11} {
		ts, err := s.Lookup(ctx, logtest.Digest(k))
		if err != nil {
			t.Fatalf("Lookup of digest %d: %v", k, err)
		}
		var want notary.Entry
		if k < singles {
			want = entries[k]
		} else {
			want = batched[k-singles+10]
		}
		if ts.Entry.Index != want.Index || !bytes.Equal(ts.Entry.Bytes(), want.Bytes()) {
			t.Errorf("Lookup of digest %d found entry %+v, want %+v", k, ts.Entry, want)
		}
		if ts.Proof == nil {
			t.Errorf("Lookup of digest %d: no proof", k)
		} else if _, err := notary.Verify(ts.Proof, ts.Proof.OwnKey()); err != nil {
			t.Errorf("Lookup of digest %d: the proof does not verify: %v", k, err)
		}
	}
	if _, err := s.Submit(ctx, logtest.Digest(1<<40)); err != nil {
		t.Fatal(err)
	}
	stop()

	report, err := service.Audit(ctx, db, logtest.LogVkey, nil)
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	if report.Size != size+1 || report.Checkpoint.Size != size+1 || report.Indexed != size+1 || report.IndexUnchecked != nil {
		t.Errorf("Audit = %+v, want the log of %d entries, all checked and indexed", report, size+1)
	}
}
