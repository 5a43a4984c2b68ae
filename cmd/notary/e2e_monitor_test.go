package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/notary"
)

// stateSize returns the size of the checkpoint a monitor state file holds, 0 without one.
func stateSize(t *testing.T, path, vkey string) int64 {
	t.Helper()
	st, err := loadMonitorState(path, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if st == nil {
		return 0
	}
	cp, err := notary.OpenCheckpoint([]byte(st.Checkpoint), vkey)
	if err != nil {
		t.Fatal(err)
	}
	return cp.Size
}

// TestMonitorGrowingLog follows a real notary on each store across several checkpoints,
// with anchors confirmed in a regtest chain between them: every pass accepts the log, the
// state file carries the checkpoint from run to run, and the anchors are checked against
// the tree.
func TestMonitorGrowingLog(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			c := startChain(t)
			r := startStack(t, c, stackOptions{db: st.db(t)})
			vkey := r.logKey(t)
			state := filepath.Join(t.TempDir(), "monitor.json")
			mon := func(want int) string {
				t.Helper()
				out, _ := wantCLI(t, want, "monitor", "--key", vkey, "--state", state, "--once", r.url)
				return out
			}

			// The empty log, then a few entries anchored in a block.
			if out := mon(exitOK); !strings.Contains(out, "first checkpoint: size 0") {
				t.Errorf("first pass: %q", out)
			}
			digests := submitBatch(t, r.url, 10)
			waitCheckpoint(t, r.url, 10)
			c.mine(t, matureBlocks)
			mineUntilConfirmed(t, c, r.url, digests)
			out := mon(exitOK)
			if !strings.Contains(out, "extends 0") || !strings.Contains(out, "1 anchors commit roots of its tree, 1 of them final") {
				t.Errorf("second pass, after a final anchor: %q", out)
			}
			// The log grows past a tile, and again: each pass extends the state's.
			for _, n := range []int{300, 7} {
				before := stateSize(t, state, vkey)
				digests = append(digests, submitBatch(t, r.url, n)...)
				waitCheckpoint(t, r.url, int64(len(digests)))
				if out := mon(exitOK); !strings.Contains(out, "extends") {
					t.Errorf("after %d more entries: %q", n, out)
				}
				if after := stateSize(t, state, vkey); after < int64(len(digests)) || after <= before {
					t.Errorf("the state holds size %d after %d entries (before: %d)", after, len(digests), before)
				}
			}
			// A final anchor checked once is not checked again (no block is mined since:
			// the anchors made meanwhile wait in the mempool, and are checked by root).
			if out := mon(exitOK); !strings.Contains(out, "unchanged") || !strings.Contains(out, " 0 of them final") {
				t.Errorf("a pass without growth: %q", out)
			}

			// A checkpoint not signed by the key given is invalid; a state of another key
			// is not used.
			_, other, err := note.GenerateKey(rand.Reader, r.svc.Origin())
			if err != nil {
				t.Fatal(err)
			}
			_, stderr := wantCLI(t, exitInvalid, "monitor", "--key", other, "--state", filepath.Join(t.TempDir(), "s.json"), "--once", r.url)
			if !strings.Contains(errLine(stderr), "checkpoint") {
				t.Errorf("a checkpoint of another key: %q", stderr)
			}
			wantCLI(t, exitUsage, "monitor", "--key", other, "--state", state, "--once", r.url)
		})
	}
}

// forkedLogs starts two notaries whose data directories share one log key but not their
// entries: each signs a history of its own under the same key. It returns them and their
// data directories.
func forkedLogs(t *testing.T) (a, b *running, dataA, dataB string) {
	t.Helper()
	ca := startChain(t)
	a = startStack(t, ca, stackOptions{})
	cb := startChain(t)
	key, err := os.ReadFile(filepath.Join(ca.data, "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cb.data, "log.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	b = startStack(t, cb, stackOptions{})
	if a.logKey(t) != b.logKey(t) {
		t.Fatal("the two notaries do not share their log key")
	}
	return a, b, ca.data, cb.data
}

// TestMonitorCatchesFork serves the monitor a log forked under its key: the view of the
// second notary contradicts the state from the first, at the same size and at a larger
// one, and the monitor exits 6 printing both signed checkpoints.
func TestMonitorCatchesFork(t *testing.T) {
	a, b, _, _ := forkedLogs(t)
	vkey := a.logKey(t)
	state := filepath.Join(t.TempDir(), "monitor.json")
	submitBatch(t, a.url, 5)
	waitCheckpoint(t, a.url, 5)
	wantCLI(t, exitOK, "monitor", "--key", vkey, "--state", state, "--once", a.url)
	seen, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var st monitorState
	if err := json.Unmarshal(seen, &st); err != nil {
		t.Fatal(err)
	}

	// Smaller than the state's, the other history cannot be compared yet: the monitor
	// keeps the state and says so.
	submitBatch(t, b.url, 3)
	waitCheckpoint(t, b.url, 3)
	out, _ := wantCLI(t, exitOK, "monitor", "--key", vkey, "--state", state, "--once", b.url)
	if !strings.Contains(out, "older checkpoint than the one of size 5") {
		t.Errorf("a smaller checkpoint: %q", out)
	}
	if now, _ := os.ReadFile(state); !bytes.Equal(now, seen) {
		t.Errorf("the state changed for a smaller checkpoint:\n%s", now)
	}
	for _, tt := range []struct {
		add    int
		size   int64
		detail string
	}{
		{2, 5, "two checkpoints of size 5 with different roots"},
		{4, 9, "the checkpoint of size 9 does not extend the one of size 5"},
	} {
		submitBatch(t, b.url, tt.add)
		waitCheckpoint(t, b.url, tt.size)
		bNote := latestNote(t, b.url)
		out, stderr := wantCLI(t, exitSplitView, "monitor", "--key", vkey, "--state", state, "--once", b.url)
		if !strings.Contains(out, tt.detail) || !strings.Contains(errLine(stderr), "split view") {
			t.Errorf("the evidence does not say %q:\n%s\n%s", tt.detail, out, stderr)
		}
		// The evidence is the two signed checkpoints, whole, each opening with the key.
		for _, n := range []string{st.Checkpoint, bNote} {
			if !strings.Contains(out, n) {
				t.Errorf("the evidence lacks the checkpoint\n%s\nin\n%s", n, out)
			}
			if _, err := notary.OpenCheckpoint([]byte(n), vkey); err != nil {
				t.Error(err)
			}
		}
		// The state keeps the checkpoint accepted before.
		if now, _ := os.ReadFile(state); !bytes.Equal(now, seen) {
			t.Errorf("the state changed on a split view:\n%s", now)
		}
	}
	// The first log, grown, still extends the state.
	submitBatch(t, a.url, 3)
	waitCheckpoint(t, a.url, 8)
	wantCLI(t, exitOK, "monitor", "--key", vkey, "--state", state, "--once", a.url)
}

// TestMonitorPolls runs the monitor without --once: it follows a growing log until it is
// stopped, and stops by itself, exit 6, when it is shown a fork.
func TestMonitorPolls(t *testing.T) {
	a, b, _, _ := forkedLogs(t)
	vkey := a.logKey(t)
	state := filepath.Join(t.TempDir(), "monitor.json")
	submitBatch(t, a.url, 3)
	waitCheckpoint(t, a.url, 3)

	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"monitor", "--key", vkey, "--state", state, "--interval", "50ms", a.url}, &out, &errOut)
	}()
	waitFor(t, waitLimit, "the monitor to accept size 3", func() (bool, error) { return stateSize(t, state, vkey) >= 3, nil })
	submitBatch(t, a.url, 20)
	waitCheckpoint(t, a.url, 23)
	waitFor(t, waitLimit, "the monitor to accept size 23", func() (bool, error) { return stateSize(t, state, vkey) >= 23, nil })
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("the monitor stopped with %d:\n%s\n%s", code, out.String(), errOut.String())
		}
	case <-time.After(waitLimit):
		t.Fatal("the monitor did not stop")
	}

	submitBatch(t, b.url, 30)
	waitCheckpoint(t, b.url, 30)
	ctx, cancel = context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var out2, errOut2 syncBuffer
	if code := run(ctx, []string{"monitor", "--key", vkey, "--state", state, "--interval", "50ms", b.url}, &out2, &errOut2); code != exitSplitView {
		t.Fatalf("shown a fork, the polling monitor exited %d:\n%s\n%s", code, out2.String(), errOut2.String())
	}
}

// latestNote returns the signed checkpoint the notary publishes at /log/checkpoint.
func latestNote(t *testing.T, base string) string {
	t.Helper()
	resp, err := httpClient.Get(base + "/log/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
