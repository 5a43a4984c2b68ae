//go:build cgo

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
	"github.com/notary-dev/notary/store/postgres"
	"github.com/notary-dev/notary/webhook"
)

// migrateChunk is how many entries one append to the new database carries.
const migrateChunk = 8192

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "--data DIR --to postgres://…", stderr)
	data := fs.String("data", "notary-data", "the state `DIR` whose SQLite log to move (the service must be stopped)")
	to := fs.String("to", "", "the empty PostgreSQL database to move it to: a postgres:// `URL` (or set NOTARY_TO)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := applyConfig(fs, ""); err != nil {
		return err
	}
	if !isPostgres(*to) {
		return &cliError{code: exitUsage, err: errors.New("migrate needs --to postgres://…"), hint: "create an empty database and pass its URL"}
	}
	unlock, err := lockDataDir(*data)
	if err != nil {
		return err
	}
	defer unlock()
	src, err := openDatabase(ctx, filepath.Join(*data, "notary.db"), true)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, *to)
	if err != nil {
		return err
	}
	defer dst.Close()
	m := &migration{src: src.(*store.DB), dst: dst, stderr: stderr}
	return m.run(ctx, stdout)
}

// migration moves a log from a SQLite store to an empty PostgreSQL one.
type migration struct {
	src    *store.DB
	dst    *postgres.DB
	stderr io.Writer
}

func (m *migration) run(ctx context.Context, stdout io.Writer) error {
	if n, err := m.dst.LogSize(ctx); err != nil || n != 0 {
		if err == nil {
			err = fmt.Errorf("the database already holds a log of %d entries", n)
		}
		return &cliError{code: exitUsage, err: fmt.Errorf("migrate: %w", err), hint: "migrate into a new, empty database"}
	}
	if _, err := m.dst.LatestCheckpoint(ctx); !errors.Is(err, service.ErrNotFound) {
		return &cliError{code: exitUsage, err: errors.New("migrate: the database already holds checkpoints"), hint: "migrate into a new, empty database"}
	}
	size, err := m.src.LogSize(ctx)
	if err != nil {
		return err
	}
	latest, err := m.src.LatestCheckpoint(ctx)
	if err != nil {
		return fmt.Errorf("migrate: the log has no checkpoint: %w", err)
	}
	if err := m.entries(ctx, size); err != nil {
		return err
	}
	if err := m.rest(ctx); err != nil {
		return err
	}
	// The proof: the new database gives the same roots as the old one and as the signed
	// checkpoint, read back from what was written.
	srcRoot, err := merkle.TreeHash(size, service.HashReader(ctx, m.src))
	if err != nil {
		return err
	}
	dstRoot, err := merkle.TreeHash(size, service.HashReader(ctx, m.dst))
	if err != nil {
		return err
	}
	cpRoot, err := merkle.TreeHash(latest.Size, service.HashReader(ctx, m.dst))
	if err != nil {
		return err
	}
	if dstRoot != srcRoot || cpRoot != latest.Root {
		return fmt.Errorf("migrate: the PostgreSQL log has root %s at size %d (SQLite %s) and %s at the checkpoint's size %d (signed %s): do not use it",
			dstRoot, size, srcRoot, cpRoot, latest.Size, latest.Root)
	}
	fmt.Fprintf(stdout, "ok   %d entries moved; root at size %d: %s in both databases\n", size, size, dstRoot)
	fmt.Fprintf(stdout, "ok   the latest signed checkpoint (size %d, root %s) matches the PostgreSQL log\n", latest.Size, latest.Root)
	fmt.Fprintf(stdout, "Serve it with: notary serve --data DIR --db <the URL>  (keep log.key and signed-head in DIR)\n")
	return nil
}

// entries copies the entries, their stored hashes and the digest index, a chunk at a time.
func (m *migration) entries(ctx context.Context, size int64) error {
	start := time.Now()
	var chunk []notary.Entry
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		first, end := chunk[0].Index, chunk[0].Index+int64(len(chunk))
		from, to := merkle.StoredHashCount(first), merkle.StoredHashCount(end)
		indexes := make([]int64, to-from)
		for k := range indexes {
			indexes[k] = from + int64(k)
		}
		hashes, err := m.src.ReadHashes(ctx, indexes)
		if err != nil {
			return err
		}
		if err := m.dst.AppendEntries(ctx, chunk, hashes); err != nil {
			return fmt.Errorf("migrate: entries %d to %d: %w", first, end-1, err)
		}
		if err := m.dst.IndexDigests(ctx, end); err != nil {
			return fmt.Errorf("migrate: indexing entries %d to %d: %w", first, end-1, err)
		}
		if end%(1<<20) < migrateChunk || end == size {
			fmt.Fprintf(m.stderr, "moved %d of %d entries (%.0f/s)\n", end, size, float64(end)/time.Since(start).Seconds())
		}
		chunk = chunk[:0]
		return nil
	}
	err := m.src.ScanEntries(ctx, 0, func(e notary.Entry) error {
		if e.Index >= size {
			return errStop
		}
		chunk = append(chunk, e)
		if len(chunk) == migrateChunk {
			return flush()
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	return flush()
}

var errStop = errors.New("stop")

// rest copies the checkpoints, the anchoring state, the API keys and the pending webhooks.
func (m *migration) rest(ctx context.Context) error {
	err := m.src.Checkpoints(ctx, func(c notary.Checkpoint) error { return m.dst.SaveCheckpoint(ctx, c) })
	if err != nil {
		return fmt.Errorf("migrate: checkpoints: %w", err)
	}
	records, wallet, err := m.src.LoadAnchorState(ctx)
	if err != nil {
		return err
	}
	if err := m.dst.SaveAnchorState(ctx, records, wallet); err != nil {
		return fmt.Errorf("migrate: anchors: %w", err)
	}
	keys, err := m.src.APIKeys(ctx)
	if err != nil {
		return err
	}
	hashes, err := m.src.APIKeyTokenHashes(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := m.dst.CreateAPIKey(ctx, k.Name, hashes[k.Name], k.Webhook, k.Created); err != nil {
			return fmt.Errorf("migrate: API key %q: %w", k.Name, err)
		}
		if !k.Revoked.IsZero() {
			if err := m.dst.RevokeAPIKey(ctx, k.Name, k.Revoked); err != nil {
				return fmt.Errorf("migrate: API key %q: %w", k.Name, err)
			}
		}
	}
	now := time.Now()
	return m.src.PendingCallbacks(ctx, func(c webhook.Callback) error {
		_, _, err := m.dst.AddWebhook(ctx, c, now, 0)
		return err
	})
}
