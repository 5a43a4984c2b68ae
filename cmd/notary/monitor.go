package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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
  - every anchor listed commits the root of that same tree at its size.
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
}

func cmdMonitor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("monitor", "--key VKEY [flags] URL", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, monitorUsage) }
	key := fs.String("key", "", "the log key `VKEY` to trust")
	statePath := fs.String("state", "notary-monitor.json", "the state `FILE`")
	once := fs.Bool("once", false, "check once and exit")
	interval := fs.Duration("interval", time.Minute, "time between checks")
	urls, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
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
	prev, err := loadMonitorState(*statePath, *key)
	if err != nil {
		return err
	}
	for {
		next, err := monitorOnce(ctx, m, prev, *statePath, urls[0], *key, stdout)
		if err == nil {
			prev = next
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

// monitorOnce checks the log once against prev and saves what it accepts.
func monitorOnce(ctx context.Context, m *monitor.Monitor, prev *notary.Checkpoint, statePath, url, vkey string, stdout io.Writer) (*notary.Checkpoint, error) {
	res, err := m.Check(ctx, prev)
	if err != nil {
		return nil, err
	}
	cp := res.Checkpoint
	switch {
	case res.Stale:
		fmt.Fprintf(stdout, "--   the log serves an older checkpoint than the one of size %d accepted before; kept that one\n", prev.Size)
		return prev, nil
	case prev == nil:
		fmt.Fprintf(stdout, "ok   first checkpoint: size %d, root %s; %d anchors match it\n", cp.Size, cp.Root, res.Anchors)
	case res.Grew:
		fmt.Fprintf(stdout, "ok   size %d extends %d; %d anchors match it\n", cp.Size, prev.Size, res.Anchors)
	default:
		fmt.Fprintf(stdout, "ok   size %d, unchanged; %d anchors match it\n", cp.Size, res.Anchors)
	}
	st := monitorState{LogKey: vkey, URL: url, Checkpoint: string(cp.Note), Checked: time.Now().UTC().Format(time.RFC3339)}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(statePath, append(data, '\n')); err != nil {
		return nil, &cliError{code: exitUsage, err: fmt.Errorf("saving the state: %v", err)}
	}
	return &cp, nil
}

// loadMonitorState reads the checkpoint accepted before from the state file, nil if there
// is no file yet.
func loadMonitorState(path, vkey string) (*notary.Checkpoint, error) {
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
	cp, err := notary.OpenCheckpoint([]byte(st.Checkpoint), vkey)
	if err != nil {
		return nil, usageError("%s: its checkpoint: %v", path, err)
	}
	return &cp, nil
}
