package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/monitor"
	"github.com/notary-dev/notary/notary"
)

const monitorUsage = `Usage:
  notary monitor --key VKEY [flags] URL

Follows the notary at URL from outside: reads its published checkpoint and tiles (URL/log,
C2SP tlog-tiles) and its anchors (URL/v1/anchors), and checks that
  - the checkpoint is signed by the log key VKEY,
  - it extends the last checkpoint accepted (kept in the state file, from run to run):
    the tree at the earlier size, read from tiles checked against the new root, has the
    earlier root,
  - every anchor listed commits the root of that same tree at its size; for a final
    anchor, the complete proof of the last entry it covers shows it from the
    transaction's bytes to its block header (once checked, it is not checked again).
    Which chain holds the block is for notary verify --node to check.
A log that shows two histories (a split view) is caught: the monitor prints the two
conflicting signed statements as evidence on stdout and exits 6.

Flags:
  --key VKEY        the log key to trust (GET URL/v1/keys shows it; compare it out of band)
  --state FILE      the state file: the last checkpoint accepted (default notary-monitor.json)
  --once            check once and exit; otherwise check every --interval until stopped
  --interval D      time between checks (default 1m)

Exit status: 0 no split view (--once: the check passed), 1 the log published something
invalid (a checkpoint not signed by VKEY, tiles that do not match their checkpoint),
2 usage or I/O error (--once: the log could not be read), 6 split view, with the evidence.

Examples:
  notary monitor --key 'notary.example/log+11b508bc+AX…' --state notary.example.json https://notary.example
  notary monitor --key "$VKEY" --once https://notary.example
`

// monitorState is the state file: the last checkpoint accepted, of the log of LogKey.
type monitorState struct {
	LogKey     string `json:"log_key"`
	URL        string `json:"url"`
	Checkpoint string `json:"checkpoint"` // the signed note, as published
	Checked    string `json:"checked"`    // when it was accepted, RFC 3339
	// Anchors are the transaction ids of the final anchors whose transactions were found
	// to commit a root of the history of Checkpoint; they are not checked again.
	Anchors []string `json:"anchors"`
}

func cmdMonitor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("monitor", "--key VKEY [flags] URL", stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), monitorUsage) }
	key := fs.String("key", "", "the log key `VKEY` to trust")
	statePath := fs.String("state", "notary-monitor.json", "the state `FILE`")
	once := fs.Bool("once", false, "check once and exit")
	interval := fs.Duration("interval", time.Minute, "time between checks")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	urls := fs.Args()
	if err := applyConfig(fs, ""); err != nil {
		return err
	}
	if len(urls) != 1 {
		return usageError("monitor takes one URL, got %d arguments", len(urls))
	}
	if *key == "" {
		return &cliError{code: exitUsage, err: errors.New("monitor needs --key, the log key to trust"),
			hint: "GET URL/v1/keys shows the key the log publishes; compare it with one you got out of band"}
	}
	if _, err := note.NewVerifier(*key); err != nil {
		return usageError("--key %q is not a log key (NAME+HASH+KEY): %v", *key, err)
	}
	if *interval <= 0 {
		return usageError("--interval must be positive")
	}
	m, err := monitor.New(urls[0], *key, nil)
	if err != nil {
		return usageError("%v", err)
	}
	st, err := loadMonitorState(*statePath, *key)
	if err != nil {
		return err
	}
	for {
		next, err := monitorOnce(ctx, m, st, *statePath, urls[0], *key, stdout)
		if err == nil {
			st = next
		}
		var split *monitor.SplitViewError
		switch {
		case errors.As(err, &split):
			split.Evidence(stdout)
			return &cliError{code: exitSplitView, err: err,
				hint: "keep this output: the two statements, each signed or anchored by the log, cannot both be true"}
		case errors.Is(err, monitor.ErrBadLog):
			return &cliError{code: exitInvalid, err: err}
		case err != nil && (*once || ctx.Err() != nil):
			return &cliError{code: exitUsage, err: err}
		case err != nil:
			fmt.Fprintf(stderr, "warning: %v (trying again in %v)\n", err, *interval)
		case *once:
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

// monitorOnce checks the log once against the state st (nil for none) and saves what it
// accepts.
func monitorOnce(ctx context.Context, m *monitor.Monitor, st *monitorState, statePath, url, vkey string, stdout io.Writer) (*monitorState, error) {
	var prev *notary.Checkpoint
	done := map[string]bool{}
	if st != nil {
		cp, err := notary.OpenCheckpoint([]byte(st.Checkpoint), vkey)
		if err != nil {
			return nil, usageError("%s: its checkpoint: %v", statePath, err)
		}
		prev = &cp
		for _, txid := range st.Anchors {
			done[txid] = true
		}
	}
	res, err := m.Check(ctx, prev, done)
	if err != nil {
		return nil, err
	}
	cp := res.Checkpoint
	switch {
	case res.Stale:
		fmt.Fprintf(stdout, "--   the log serves an older checkpoint than the one of size %d accepted before; kept that one\n", prev.Size)
		return st, nil
	case prev == nil:
		fmt.Fprintf(stdout, "ok   first checkpoint: size %d, root %s\n", cp.Size, cp.Root)
	case res.Grew:
		fmt.Fprintf(stdout, "ok   size %d extends %d\n", cp.Size, prev.Size)
	default:
		fmt.Fprintf(stdout, "ok   size %d, unchanged\n", cp.Size)
	}
	fmt.Fprintf(stdout, "ok   %d anchors commit roots of its tree, %d of them final, their transactions checked through complete proofs\n", res.Anchors, len(res.Final))
	next := &monitorState{LogKey: vkey, URL: url, Checkpoint: string(cp.Note), Checked: time.Now().UTC().Format(time.RFC3339)}
	if st != nil {
		next.Anchors = st.Anchors
	}
	next.Anchors = append(next.Anchors, res.Final...)
	if len(next.Anchors) > maxStateAnchors {
		next.Anchors = next.Anchors[len(next.Anchors)-maxStateAnchors:]
	}
	data, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(statePath, append(data, '\n')); err != nil {
		return nil, &cliError{code: exitUsage, err: fmt.Errorf("saving the state: %v", err)}
	}
	return next, nil
}

// maxStateAnchors bounds the anchors the state remembers as checked (a year of hourly
// anchors); one forgotten is checked again, no more.
const maxStateAnchors = 10_000

// loadMonitorState reads the state file, nil if there is none yet.
func loadMonitorState(path, vkey string) (*monitorState, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, usageError("reading the state: %v", err)
	}
	var st monitorState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, usageError("%s is not a monitor state file: %v", path, err)
	}
	if st.LogKey != vkey {
		return nil, &cliError{code: exitUsage, err: fmt.Errorf("%s is the state of the log key %q, not %q", path, st.LogKey, vkey),
			hint: "give each log its own --state file"}
	}
	if _, err := notary.OpenCheckpoint([]byte(st.Checkpoint), vkey); err != nil {
		return nil, usageError("%s: its checkpoint: %v", path, err)
	}
	return &st, nil
}

// writeAtomic writes data to path through a temporary file in the same directory, synced
// and renamed, so that a reader sees the whole file or none.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
