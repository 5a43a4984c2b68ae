package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/pgtest"
	"github.com/notary-dev/notary/notary"
)

// TestE2EStandbyPromoted runs the log on a PostgreSQL primary with a synchronous standby,
// kills the primary (SIGKILL) under a load of submissions, promotes the standby and
// starts the service on it with the same data directory: it starts (nothing the key
// signed is missing: signed-head would refuse it otherwise) and holds every acknowledged
// digest at the index, time and leaf of its receipt.
func TestE2EStandbyPromoted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	primary := pgtest.New(t)
	if _, err := primary.CreateDatabase(ctx, "notary"); err != nil {
		t.Fatal(err)
	}
	standby := pgtest.Standby(t, primary, pgtest.Sync)
	c := startChain(t)
	first := startStack(t, c, stackOptions{db: primary.DSN("notary")})
	// Status and metrics name the standby, synchronous.
	if sb := followStatus(t, first.url).Standbys; len(sb) != 1 || sb[0].Name != standby.Name() || !sb[0].Synchronous || sb[0].LagBytes < 0 {
		t.Errorf("/v1/status standbys = %+v, want %q, synchronous", sb, standby.Name())
	}
	if m, want := getText(t, first.url+"/metrics"), `notary_db_standby_synchronous{standby="`+standby.Name()+`"} 1`; !strings.Contains(m, want) {
		t.Errorf("/metrics has no %s", want)
	}

	var (
		mu    sync.Mutex
		acked = map[notary.Digest]api.TimestampView{}
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				d := randomDigest(t)
				r, err := submit(first.url, d)
				if err != nil {
					time.Sleep(10 * time.Millisecond) // the database is gone: the answer is an error
					continue
				}
				mu.Lock()
				acked[d] = r
				mu.Unlock()
			}
		})
	}
	waitFor(t, waitLimit, "some receipts", func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 200, nil
	})
	if err := primary.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-first.done:
	case <-time.After(waitLimit):
		t.Fatal("the service did not stop when its database died")
	}
	first.once.Do(func() {}) // it is meant to stop with an error
	close(stop)
	wg.Wait()
	if err := standby.Promote(ctx); err != nil {
		t.Fatal(err)
	}

	second := startStack(t, c, stackOptions{db: standby.DSN("notary")})
	for d, r := range acked {
		got, err := lookup(second.url, d)
		if err != nil {
			t.Fatalf("digest %s acknowledged at index %d is gone after the promotion: %v", d, r.Index, err)
		}
		if got.Index != r.Index || got.ReceivedMS != r.ReceivedMS || got.LeafHash != r.LeafHash {
			t.Fatalf("digest %s: entry %d at %d ms after the promotion, receipt %d at %d ms", d, got.Index, got.ReceivedMS, r.Index, r.ReceivedMS)
		}
	}
	t.Logf("%d acknowledged digests, all on the promoted standby", len(acked))
	mustSubmit(t, second.url, randomDigest(t))
}
