package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
)

// TestAuditCommand runs notary audit on a data directory that a service wrote, then on the
// same log with one entry's time changed: exit 0 and what was checked, then exit 1 naming
// the entry and the field.
func TestAuditCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	signer, vkey, err := loadOrCreateLogKey(filepath.Join(dir, "log.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "notary.db")
	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(ctx, service.Config{Signer: signer, Verifier: vkey, Store: db})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	ds := make([]notary.Digest, 40)
	for i := range ds {
		ds[i] = sha256.Sum256(fmt.Appendf(nil, "audited %d", i))
	}
	if _, err := svc.SubmitEntries(ctx, ds); err != nil {
		t.Fatal(err)
	}
	// While the service runs: its digest index is in use, the rest is checked.
	code, stdout, stderr := cli(t, "audit", "-q", "--data", dir)
	if code != exitOK || !strings.Contains(stdout, "ok   40 entries") || !strings.Contains(stdout, "digest index was not checked") {
		t.Fatalf("audit of a live log: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	db.Close()

	code, stdout, stderr = cli(t, "audit", "-q", "--data", dir)
	if code != exitOK || !strings.Contains(stdout, "ok   40 entries") || !strings.Contains(stdout, "size 40") || !strings.Contains(stdout, "maps the 40 entries") {
		t.Fatalf("audit of a sound log: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	raw, err := sql.Open("sqlite3", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("UPDATE entries SET time_ms = time_ms + 1 WHERE id = 17"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	code, stdout, stderr = cli(t, "audit", "-q", "--data", dir)
	if code != exitInvalid || !strings.Contains(stderr, "entry 17: time or nonce damaged") || !strings.Contains(stderr, "hint: ") {
		t.Fatalf("audit of a damaged log: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
