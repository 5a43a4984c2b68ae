package postgres

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/internal/pgtest"
	"github.com/notary-dev/notary/service"
)

// TestCampaign checks the election: one holder at a time, the next one takes over when the
// holder releases or its connection dies, and the published writer is the one that led last.
func TestCampaign(t *testing.T) {
	ctx := t.Context()
	a, dsn := openTest(t)
	b := openDSN(t, dsn)

	lostA, releaseA, err := a.Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseA()
	won := make(chan error, 1)
	var lostB <-chan struct{}
	var releaseB func()
	go func() {
		var err error
		lostB, releaseB, err = b.Campaign(ctx)
		won <- err
	}()
	select {
	case err := <-won:
		t.Fatalf("a second process won the election while the first holds it: %v", err)
	case <-time.After(300 * time.Millisecond): // it must still be waiting; no upper bound is asserted
	}
	if _, err := a.Lead(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.SetWriter(ctx, "http://a.example", time.Now()); err != nil {
		t.Fatal(err)
	}
	if w, err := b.Writer(ctx); err != nil || w.URL != "http://a.example" {
		t.Fatalf("Writer = %+v, %v; want a", w, err)
	}

	// The holder's connection dies: it learns so, and the other takes over.
	if _, err := a.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND classid::bigint = ($1::bigint >> 32) AND objid::bigint = ($1::bigint & 4294967295)`, lockWriter); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lostA:
	case <-time.After(time.Minute):
		t.Fatal("the holder was not told that its lock's connection died")
	}
	select {
	case err := <-won:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the waiting process did not take the lock")
	}
	defer releaseB()
	if _, err := b.Lead(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Writer(ctx); !errors.Is(err, ErrNoWriter) {
		t.Errorf("Writer after a new Lead, before it publishes: %v, want ErrNoWriter", err)
	}
	if err := a.SetWriter(ctx, "http://a.example", time.Now()); !errors.Is(err, service.ErrFenced) {
		t.Errorf("SetWriter by the deposed process: %v, want ErrFenced", err)
	}
	if err := b.SetWriter(ctx, "http://b.example", time.Now()); err != nil {
		t.Fatal(err)
	}
	if w, err := a.Writer(ctx); err != nil || w.URL != "http://b.example" {
		t.Errorf("Writer = %+v, %v; want b", w, err)
	}
	select {
	case <-lostB:
		t.Error("the new holder's lock was lost")
	default:
	}
}

// TestReplicationRisks checks the warning about asynchronous standbys.
func TestReplicationRisks(t *testing.T) {
	ctx := t.Context()
	primary := pgtest.New(t)
	dsn, err := primary.CreateDatabase(ctx, "notary")
	if err != nil {
		t.Fatal(err)
	}
	db := openDSN(t, dsn)
	if risks, err := db.ReplicationRisks(ctx); err != nil || len(risks) != 0 {
		t.Errorf("no standby: risks %q, %v", risks, err)
	}
	if standbys, err := db.Standbys(ctx); err != nil || len(standbys) != 0 {
		t.Errorf("no standby: Standbys = %+v, %v", standbys, err)
	}
	standby := pgtest.Standby(t, primary, pgtest.Async)
	risks, err := db.ReplicationRisks(ctx)
	if err != nil || len(risks) != 1 || !strings.Contains(risks[0], "asynchronously") {
		t.Errorf("an asynchronous standby: risks %q, %v; want one naming it", risks, err)
	}
	standbys, err := db.Standbys(ctx)
	if err != nil || len(standbys) != 1 {
		t.Fatalf("one standby: Standbys = %+v, %v", standbys, err)
	}
	if s := standbys[0]; s.Name != standby.Name() || s.Sync != "async" || s.LagBytes < 0 {
		t.Errorf("Standbys = %+v, want %q, async, a lag of 0 bytes or more", s, standby.Name())
	}
}
