package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/internal/pgtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
	"github.com/notary-dev/notary/store/postgres"
)

// TestMigrate moves a SQLite log that a service wrote into PostgreSQL, then runs a service
// on the copy: the same root, every entry at its index, repeated digests answered with
// their first entry, the API keys and the signed head carried over; a second migration
// into the same database is refused.
func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	signer, vkey, err := loadOrCreateLogKey(filepath.Join(dir, "log.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	const n = 9000 // more than one chunk of the migration
	ds := make([]notary.Digest, n)
	for i := range ds {
		ds[i] = sha256.Sum256(fmt.Appendf(nil, "migrated %d", i))
	}
	run := func(db service.Store, fn func(*service.Service)) {
		t.Helper()
		head, err := service.OpenHeadFile(filepath.Join(dir, "signed-head"), vkey)
		if err != nil {
			t.Fatal(err)
		}
		defer head.Close()
		svc, err := service.New(ctx, service.Config{Signer: signer, Verifier: vkey, Store: db, SignedHead: head})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- svc.Run(runCtx) }()
		fn(svc)
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	sqlite, err := store.Open(filepath.Join(dir, "notary.db"))
	if err != nil {
		t.Fatal(err)
	}
	var first []notary.Entry
	run(sqlite, func(svc *service.Service) {
		if first, err = svc.SubmitEntries(ctx, ds); err != nil {
			t.Fatal(err)
		}
	})
	if err := sqlite.CreateAPIKey(ctx, "ci", sha256.Sum256([]byte("token")), "", time.UnixMilli(1_700_000_000_000)); err != nil {
		t.Fatal(err)
	}
	root, err := merkle.TreeHash(n, service.HashReader(ctx, sqlite))
	if err != nil {
		t.Fatal(err)
	}
	sqlite.Close()

	dsn := pgtest.Shared(t)
	code, stdout, stderr := cli(t, "migrate", "--data", dir, "--to", dsn)
	if code != exitOK || !strings.Contains(stdout, fmt.Sprintf("ok   %d entries moved; root at size %d: %s", n, n, root)) {
		t.Fatalf("migrate: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, _, stderr = cli(t, "migrate", "--data", dir, "--to", dsn)
	if code != exitUsage || !strings.Contains(stderr, "already holds a log") {
		t.Errorf("a second migrate into the same database: exit %d\n%s", code, stderr)
	}

	pg, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if name, _, revoked, err := pg.APIKeyByHash(ctx, sha256.Sum256([]byte("token"))); err != nil || name != "ci" || revoked {
		t.Errorf("API key after migrate: %q, revoked %v, %v", name, revoked, err)
	}
	run(pg, func(svc *service.Service) {
		again, err := svc.SubmitEntries(ctx, []notary.Digest{ds[0], ds[4321], ds[n-1]})
		if err != nil {
			t.Fatal(err)
		}
		for k, i := range []int{0, 4321, n - 1} {
			if e, want := again[k], first[i]; e.Index != want.Index || !e.Time.Equal(want.Time) || e.Nonce != want.Nonce {
				t.Errorf("digest %d on PostgreSQL: entry %+v, want its first %+v", i, e, want)
			}
		}
		if svc.Size() != n {
			t.Errorf("the migrated log has %d entries, want %d", svc.Size(), n)
		}
	})
	if got, err := merkle.TreeHash(n, service.HashReader(ctx, pg)); err != nil || got != root {
		t.Errorf("root on PostgreSQL %s (%v), want %s", got, err, root)
	}
}
