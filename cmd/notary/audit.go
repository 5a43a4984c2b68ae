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

	"github.com/notary-dev/notary/service"
)

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit", "[flags]", stderr)
	data := fs.String("data", "notary-data", "the state `DIR` that serve uses (for log.key)")
	dbFlag := fs.String("db", "", dbFlagUsage)
	quiet := fs.Bool("q", false, "print nothing while it reads")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := applyConfig(fs, ""); err != nil {
		return err
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
	total, err := db.LogSize(ctx)
	if err != nil {
		return err
	}
	progress := func(n int64) {
		if !*quiet && n%(1<<20) < 4096 {
			fmt.Fprintf(stderr, "read %d of %d entries\n", n, total)
		}
	}
	rep, err := service.Audit(ctx, db, vkey, progress)
	var damage *service.DamageError
	if errors.As(err, &damage) {
		return &cliError{code: exitInvalid, err: err,
			hint: "the database no longer holds what the log signed: restore it from a backup taken before the damage"}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ok   %d entries, every stored hash recomputed from them\n", rep.Size)
	fmt.Fprintf(stdout, "ok   the latest checkpoint (size %d, root %s) is signed by the log's key and matches the entries\n", rep.Checkpoint.Size, rep.Checkpoint.Root)
	if rep.IndexUnchecked != nil {
		fmt.Fprintf(stdout, "--   the digest index was not checked: %v\n", rep.IndexUnchecked)
	} else {
		fmt.Fprintf(stdout, "ok   the digest index maps the %d entries it covers to their first entries\n", rep.Indexed)
	}
	return nil
}

// readVerifierKey reads the log's verifier key from its key file, as serve writes it.
func readVerifierKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", &cliError{code: exitUsage, err: fmt.Errorf("reading the log key: %v", err), hint: "pass the --data directory that serve uses"}
	}
	lines := strings.Fields(string(data))
	if len(lines) != 2 {
		return "", usageError("%s is not a notary log key file", path)
	}
	return lines[1], nil
}
