//go:build cgo

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
)

// cmdBackup writes a consistent copy of a live SQLite log and checks it before it says so.
// The copy is read from one snapshot of the database (VACUUM INTO on a connection of its
// own), so the service goes on appending while it runs. The digest index is not copied: a
// restored copy rebuilds it from its entries when it starts.
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", "[--data DIR] DEST", stderr)
	data := fs.String("data", "notary-data", "the state `DIR` that serve uses (its notary.db and log.key)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := applyConfig(fs, ""); err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return usageError("backup takes one destination file, which must not exist")
	}
	if db := os.Getenv("NOTARY_DB"); isPostgres(db) {
		return &cliError{code: exitUsage, err: errors.New("backup copies the SQLite log of a data directory, and NOTARY_DB names a PostgreSQL database"),
			hint: "back PostgreSQL up with pg_basebackup and WAL archiving (docs/operations.md)"}
	}
	dest := pos[0]
	if _, err := os.Stat(dest); err == nil {
		return usageError("%s exists; give a new file", dest)
	}
	vkey, err := readVerifierKey(filepath.Join(*data, "log.key"))
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, filepath.Join(*data, "notary.db"), true)
	if err != nil {
		return err
	}
	defer db.Close()

	tmp := fmt.Sprintf("%s.partial-%d", dest, os.Getpid())
	defer os.Remove(tmp)
	if err := db.(*store.DB).Backup(ctx, tmp); err != nil {
		return err
	}
	n, cp, err := checkCopy(ctx, tmp, vkey)
	if err != nil {
		return fmt.Errorf("the copy in %s does not check: %w", tmp, err)
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		return err
	}
	if err := syncFile(filepath.Dir(dest)); err != nil {
		return err
	}
	st, err := os.Stat(dest)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ok   %s: a copy of the log %s as of one moment: %d entries, %d bytes\n", dest, cp.Origin, n, st.Size())
	fmt.Fprintf(stdout, "ok   its latest checkpoint (size %d, root %s) is signed by the log's key and matches its entries\n", cp.Size, cp.Root)
	fmt.Fprintf(stdout, "--   not in it: the digest index (rebuilt from the entries when a restored copy starts) and the keys (back log.key and bitcoin.key up once, apart)\n")
	return nil
}

// checkCopy opens the database copy at path and checks that its latest checkpoint is
// signed by vkey and that its entries give that checkpoint's root. It returns the copy's
// number of entries and that checkpoint.
func checkCopy(ctx context.Context, path, vkey string) (int64, notary.Checkpoint, error) {
	db, err := store.Open(path)
	if err != nil {
		return 0, notary.Checkpoint{}, err
	}
	defer db.Close()
	n, err := db.LogSize(ctx)
	if err != nil {
		return 0, notary.Checkpoint{}, err
	}
	stored, err := db.LatestCheckpoint(ctx)
	if err != nil {
		return 0, notary.Checkpoint{}, err
	}
	cp, err := notary.OpenCheckpoint(stored.Note, vkey)
	if err != nil {
		return 0, notary.Checkpoint{}, fmt.Errorf("its latest checkpoint: %w", err)
	}
	root, err := merkle.TreeHash(cp.Size, service.HashReader(ctx, db))
	if err != nil {
		return 0, notary.Checkpoint{}, err
	}
	if root != cp.Root || cp.Size > n {
		return 0, notary.Checkpoint{}, fmt.Errorf("its entries give root %s at size %d, its checkpoint says %s", root, cp.Size, cp.Root)
	}
	return n, cp, nil
}

// syncFile flushes a file or a directory to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// cmdReorigin continues a log whose database lost entries its key signed (a restored
// backup) under a new origin and key: the entries it holds stay, every stored checkpoint
// is signed again by the new key (same sizes and roots, so anchored proofs stay valid),
// the old key is kept aside and signed-head starts afresh.
func cmdReorigin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("reorigin", "--data DIR [--db postgres://…] --origin NEW", stderr)
	data := fs.String("data", "notary-data", "the state `DIR` that serve uses (the service must be stopped)")
	origin := fs.String("origin", "", "the new log's `NAME`, e.g. notary.example.com/log2")
	dbFlag := fs.String("db", "", dbFlagUsage)
	force := fs.Bool("force", false, "retire the key even though the database holds everything it signed (a leaked key)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := applyConfig(fs, ""); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return usageError("reorigin takes no arguments")
	}
	if *origin == "" {
		fs.Usage()
		return usageError("reorigin needs --origin, the new log's name")
	}
	unlock, err := lockDataDir(*data)
	if err != nil {
		return err
	}
	defer unlock()
	keyPath := filepath.Join(*data, "log.key")
	if _, err := os.Stat(keyPath); err != nil {
		return &cliError{code: exitUsage, err: fmt.Errorf("no log key at %s", keyPath), hint: "pass the --data directory that serve uses"}
	}
	oldSigner, oldVkey, err := loadOrCreateLogKey(keyPath, "")
	if err != nil {
		return err
	}
	if *origin == oldSigner.Name() {
		return usageError("--origin %q is the old log's name; the new log needs a name of its own", *origin)
	}
	newSkey, newVkey, err := note.GenerateKey(nil, *origin)
	if err != nil {
		return usageError("creating the log key for origin %q: %v", *origin, err)
	}
	newSigner, err := note.NewSigner(newSkey)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, databasePath(*dbFlag, *data), true)
	if err != nil {
		return err
	}
	defer db.Close()
	rdb, ok := db.(resigner)
	if !ok {
		return fmt.Errorf("reorigin: %T cannot re-sign its checkpoints", db)
	}
	n, err := db.LogSize(ctx)
	if err != nil {
		return err
	}

	// What the old key signed beyond this database, as far as signed-head knows.
	headPath := filepath.Join(*data, "signed-head")
	lost := "signed-head is missing, so how far the old key signed is unknown"
	behind := true
	if _, err := os.Stat(headPath); err == nil {
		h, err := service.OpenHeadFile(headPath, oldVkey)
		if err != nil {
			return err
		}
		signed, err := h.Latest()
		h.Close()
		switch {
		case errors.Is(err, service.ErrNotFound):
		case err != nil:
			return err
		case signed.Size > n:
			lost = fmt.Sprintf("its key signed a checkpoint of size %d: receipts for entries %d to %d cannot be honoured", signed.Size, n, signed.Size-1)
		default:
			lost, behind = fmt.Sprintf("its key signed up to size %d, all of it in the database", signed.Size), false
		}
	}
	if !behind && !*force {
		return &cliError{code: exitUsage, err: fmt.Errorf("the database holds every entry the log %s signed (%s); the log can go on under its key", oldSigner.Name(), lost),
			hint: "start serve; pass --force only to retire a key that has leaked"}
	}

	// Fence any writer still running on the database (PostgreSQL: another process): from
	// here on its appends and checkpoints are refused. The log must not have grown meanwhile.
	if _, err := db.Lead(ctx); err != nil {
		return err
	}
	if now, err := db.LogSize(ctx); err != nil {
		return err
	} else if now != n {
		return &cliError{code: exitUsage, err: fmt.Errorf("the log grew from %d to %d entries while reorigin read it", n, now),
			hint: "stop every notary serve on this database first"}
	}

	// The new key first, so that a crash never leaves checkpoints signed by a lost key.
	newKeyPath := keyPath + ".new"
	if err := writeFileSynced(newKeyPath, []byte(newSkey+"\n"+newVkey+"\n")); err != nil {
		return err
	}
	resigned, err := rdb.Resign(ctx, func(size int64, root merkle.Hash) (notary.Checkpoint, error) {
		return notary.SignCheckpoint(size, root, newSigner)
	})
	if err != nil {
		return fmt.Errorf("re-signing the stored checkpoints (nothing changed; %s holds the new key): %w", newKeyPath, err)
	}
	stamp := time.Now().UTC().Format("20060102T150405Z")
	retiredKey := keyPath + ".retired-" + stamp
	if err := os.Rename(keyPath, retiredKey); err != nil {
		return err
	}
	if err := os.Rename(newKeyPath, keyPath); err != nil {
		return err
	}
	retiredHead := ""
	if _, err := os.Stat(headPath); err == nil {
		retiredHead = headPath + ".retired-" + stamp
		if err := os.Rename(headPath, retiredHead); err != nil {
			return err
		}
	}
	if err := syncFile(*data); err != nil {
		return err
	}
	if resigned > 0 {
		latest, err := db.LatestCheckpoint(ctx)
		if err != nil {
			return err
		}
		h, err := service.OpenHeadFile(headPath, newVkey)
		if err != nil {
			return err
		}
		err = errors.Join(h.Record(latest), h.Sync(), h.Close())
		if err != nil {
			return err
		}
	}

	fmt.Fprintf(stdout, "ok   the log %s ends here: this database holds its first %d entries; %s\n", oldSigner.Name(), n, lost)
	fmt.Fprintf(stdout, "ok   its key is kept, unused, in %s", retiredKey)
	if retiredHead != "" {
		fmt.Fprintf(stdout, ", its signed-head in %s", retiredHead)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "ok   the log continues as %s with the same %d entries, under the new key in %s:\n     %s\n", *origin, n, keyPath, newVkey)
	fmt.Fprintf(stdout, "ok   %d stored checkpoints signed again by the new key, same sizes and roots: anchored proofs stay valid\n", resigned)
	fmt.Fprintf(stdout, "next: publish the new key and what happened (the receipts above); start serve with --origin %s\n", quoteArg(*origin))
	return nil
}

// resigner is a database whose stored checkpoints can be signed again by another key.
type resigner interface {
	Resign(ctx context.Context, sign func(size int64, root merkle.Hash) (notary.Checkpoint, error)) (int64, error)
}

// writeFileSynced writes a new 0600 file and flushes it to disk.
func writeFileSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// quoteArg quotes s for a shell command line when it needs it.
func quoteArg(s string) string {
	if strings.ContainsAny(s, " \t'\"$\\`;&|<>*?") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
