//go:build cgo

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/tiles"
)

const tilesUsage = `Usage:
  notary tiles export [flags] DIR   write the log's tlog-tiles to DIR, for a static mirror or a CDN

Flags:
  --data DIR     the data directory of the service, for log.key and the database (default notary-data)
  --db FILE|URL  the log's database (default DIR/notary.db)
  --entries      write the entry bundles too (DIR/tile/entries/…): every entry's digest
  -q             print nothing on success

DIR receives the files the service serves under /log: DIR/checkpoint and DIR/tile/….
(DIR/.lock keeps two exports from writing DIR at once.) Serve DIR as the log's prefix: a client then reads DIR/checkpoint as it reads
/log/checkpoint. Each run writes only the tiles added since the checkpoint already in DIR,
each file atomically (a temporary file renamed), the checkpoint last, so that a reader never
sees a checkpoint whose tiles are missing; it then removes the partial tiles that full ones
replace. Run it as often as you like (from cron, say) while the service runs.

Examples:
  notary tiles export --data /var/lib/notary /srv/www/log
  notary tiles export --db postgres://notary@db/notary --data /var/lib/notary /srv/www/log
`

func cmdTiles(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tilesUsage)
		return &cliError{code: exitUsage, err: errors.New("tiles needs a subcommand: export")}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		return helpText(tilesUsage)
	case "export":
	default:
		hint := `run "notary tiles help"`
		if near := nearest(args[0], []string{"export"}); near != "" {
			hint = fmt.Sprintf("did you mean %q? (%s)", near, hint)
		}
		return &cliError{code: exitUsage, err: fmt.Errorf("unknown tiles subcommand %q", args[0]), hint: hint}
	}
	fs := newFlagSet("tiles export", "[flags] DIR", stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), tilesUsage) }
	data := fs.String("data", "notary-data", "the service's data `DIR`")
	dbFlag := fs.String("db", "", dbFlagUsage)
	entries := fs.Bool("entries", false, "write the entry bundles too")
	quiet := fs.Bool("q", false, "print nothing on success")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	dirs := fs.Args()
	if err := applyConfig(fs, ""); err != nil {
		return err
	}
	if len(dirs) != 1 {
		return usageError("tiles export takes one directory, got %d arguments", len(dirs))
	}
	vkey, err := readVerifierKey(filepath.Join(*data, "log.key"))
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, databasePath(*dbFlag, *data), true)
	if err != nil {
		return err
	}
	defer db.Close()
	unlock, err := lockExportDir(dirs[0])
	if err != nil {
		return err
	}
	defer unlock()
	rep, err := exportTiles(ctx, db, vkey, dirs[0], *entries)
	if err != nil {
		return err
	}
	if !*quiet {
		if rep.wrote == 0 && !rep.checkpoint {
			fmt.Fprintf(stdout, "%s is up to date at size %d\n", dirs[0], rep.size)
		} else {
			fmt.Fprintf(stdout, "wrote %d tiles and the checkpoint of size %d to %s (it held size %d)\n", rep.wrote, rep.size, dirs[0], rep.from)
		}
	}
	return nil
}

// exportReport is what exportTiles did.
type exportReport struct {
	from, size int64 // the checkpoint's size in the directory before, and now
	wrote      int   // tiles and bundles written
	checkpoint bool  // whether the checkpoint was written
}

// publishedCheckpoint is the checkpoint the log publishes, as the database holds it: the
// one its tiles are exported for. That is the latest signed checkpoint, or, when the writer
// recorded it cosigned by its witnesses (PostgreSQL), the same checkpoint with their
// cosignatures.
func publishedCheckpoint(ctx context.Context, st service.Store) (notary.Checkpoint, error) {
	latest, err := st.LatestCheckpoint(ctx)
	if err != nil {
		return latest, err
	}
	if ws, ok := st.(service.WitnessedStore); ok {
		pub, _, err := ws.Witnessed(ctx)
		if err != nil {
			return latest, err
		}
		if pub != nil && pub.Size == latest.Size && pub.Root == latest.Root {
			return *pub, nil
		}
	}
	return latest, nil
}

// exportTiles writes to dir the tiles (and with entries the bundles) that the log in st
// adds at its published checkpoint to the checkpoint dir holds, then that checkpoint, then
// removes the partial tiles the new full ones replace. It refuses a directory whose
// checkpoint is not signed by vkey or is not a prefix of the log.
func exportTiles(ctx context.Context, st service.Store, vkey, dir string, entries bool) (exportReport, error) {
	var rep exportReport
	cp, err := publishedCheckpoint(ctx, st)
	if err != nil {
		return rep, fmt.Errorf("reading the published checkpoint: %w", err)
	}
	if _, err := notary.OpenCheckpoint(cp.Note, vkey); err != nil {
		return rep, &cliError{code: exitInvalid, err: fmt.Errorf("the database's checkpoint does not open with the log's key: %v", err),
			hint: "pass the --data directory whose log.key signs this database's log"}
	}
	rep.size = cp.Size
	from, err := exportedSize(ctx, st, vkey, dir, cp)
	if err != nil {
		return rep, err
	}
	rep.from = from
	list := tiles.For(from, cp.Size, false)
	if entries {
		bundlesFrom := from
		if _, err := os.Stat(filepath.Join(dir, "tile", "entries")); errors.Is(err, os.ErrNotExist) {
			bundlesFrom = 0 // bundles were not exported before
		}
		bundles, err := exportBundles(ctx, st, dir, bundlesFrom, cp.Size)
		if err != nil {
			return rep, err
		}
		rep.wrote += len(bundles)
		list = append(list, bundles...)
	}
	for _, t := range list {
		if t.Level == tiles.EntriesLevel {
			continue
		}
		data, err := tiles.ReadHashTile(t, service.HashReader(ctx, st))
		if err != nil {
			return rep, err
		}
		if err := writeAtomic(filepath.Join(dir, filepath.FromSlash(t.Path())), data); err != nil {
			return rep, err
		}
		rep.wrote++
	}
	old, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil || !bytes.Equal(old, cp.Note) {
		if err := writeAtomic(filepath.Join(dir, "checkpoint"), cp.Note); err != nil {
			return rep, err
		}
		rep.checkpoint = true
	}
	// Readers of the new checkpoint read the full tiles; those of an older one may fall
	// back to them (as the specification has clients do).
	for _, t := range list {
		if t.Full() {
			if err := os.RemoveAll(filepath.Join(dir, filepath.FromSlash(t.Path())+".p")); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// exportedSize returns the size of the checkpoint dir holds (0 without one), after checking
// that the log key signed it and that the log's tree at that size has its root.
func exportedSize(ctx context.Context, st service.Store, vkey, dir string, cp notary.Checkpoint) (int64, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, usageError("reading the exported checkpoint: %v", err)
	}
	old, err := notary.OpenCheckpoint(raw, vkey)
	if err != nil {
		return 0, &cliError{code: exitUsage, err: fmt.Errorf("%s does not hold a checkpoint of this log: %v", dir, err),
			hint: "export each log to its own directory"}
	}
	if old.Size > cp.Size {
		return 0, &cliError{code: exitUsage, err: fmt.Errorf("%s holds a checkpoint of size %d, beyond the database's %d", dir, old.Size, cp.Size),
			hint: "export from the database the service writes, not an older copy"}
	}
	root, err := merkle.TreeHash(old.Size, service.HashReader(ctx, st))
	if err != nil {
		return 0, err
	}
	if root != old.Root {
		return 0, &cliError{code: exitInvalid, err: fmt.Errorf("%s holds a checkpoint of size %d with root %s, but the log's root at that size is %s: "+
			"the two histories differ", dir, old.Size, old.Root, root)}
	}
	return old.Size, nil
}

// errBundlesDone stops the scan of entries at the checkpoint's size.
var errBundlesDone = errors.New("bundles done")

// exportBundles writes the entry bundles of the entries [from, size), the first one from
// the start of from's bundle, in one scan of the log, and returns them.
func exportBundles(ctx context.Context, st service.Store, dir string, from, size int64) ([]tiles.Tile, error) {
	var list []tiles.Tile
	for _, t := range tiles.For(from, size, true) {
		if t.Level == tiles.EntriesLevel {
			list = append(list, t)
		}
	}
	if len(list) == 0 {
		return nil, nil
	}
	next := 0
	var buf []byte
	count := 0
	err := st.ScanEntries(ctx, list[0].Index*tiles.FullWidth, func(e notary.Entry) error {
		buf = tiles.AppendBundleEntry(buf, e)
		count++
		if t := list[next]; count == t.Width {
			if err := writeAtomic(filepath.Join(dir, filepath.FromSlash(t.Path())), buf); err != nil {
				return err
			}
			buf, count = buf[:0], 0
			if next++; next == len(list) {
				return errBundlesDone
			}
		}
		return nil
	})
	if !errors.Is(err, errBundlesDone) {
		if err == nil {
			err = fmt.Errorf("the log ended before entry %d", size)
		}
		return nil, fmt.Errorf("writing the entry bundles: %w", err)
	}
	return list, nil
}

// lockExportDir creates dir if need be and takes an exclusive lock on it (the file .lock in
// it), so that two exports never write the same directory at once: the slower could put
// back an older checkpoint.
func lockExportDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, usageError("creating %s: %v", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, usageError("locking %s: %v", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, &cliError{code: exitUsage, err: fmt.Errorf("another export is writing %s", dir),
			hint: "let it finish; exports of one directory run one at a time"}
	}
	return func() { f.Close() }, nil
}
