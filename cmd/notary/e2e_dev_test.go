package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestE2EDev runs the dev command as a developer does and follows the instructions it
// prints: stamp a file, upgrade the proof once the local chain has mined the anchor, verify
// it against the local node. The dev stack mines on its own clock, so this test polls; its
// anchorer steps every 5 s, so it takes about 10 s.
func TestE2EDev(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a btcd node: skipped in -short mode")
	}
	data := filepath.Join(t.TempDir(), "dev")
	// btcd's RPC address pinned, as make run BTCD_RPC=… does: a port free a moment ago.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	btcdRPC := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--addr", "127.0.0.1:0", "--data", data, "--block-interval", "300ms", "--btcd-rpc", btcdRPC}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("dev exited %d after Ctrl-C, want 0\n%s", code, stderr.String())
			}
		case <-time.After(waitLimit):
			t.Errorf("dev did not stop within %v of its context being cancelled", waitLimit)
		}
		if t.Failed() {
			t.Logf("dev stdout:\n%s\ndev stderr:\n%s", stdout.String(), stderr.String())
		}
	})

	stampLine := regexp.MustCompile(`stamp +bin/notary stamp --server (\S+) FILE`)
	verifyLine := regexp.MustCompile(`verify +bin/notary verify --node (\S+) FILE\.proof\.json FILE`)
	var server, nodeURL string
	waitFor(t, waitLimit, "printing its instructions", func() (bool, error) {
		select {
		case code := <-done:
			done <- code
			t.Fatalf("dev exited %d before serving:\n%s", code, stderr.String())
		default:
		}
		out := stdout.String()
		m1, m2 := stampLine.FindStringSubmatch(out), verifyLine.FindStringSubmatch(out)
		if m1 == nil || m2 == nil {
			return false, nil
		}
		server, nodeURL = m1[1], m2[1]
		return true, nil
	})
	if !strings.HasSuffix(nodeURL, "@"+btcdRPC) {
		t.Errorf("dev's node is at %s, not at the pinned --btcd-rpc %s", nodeURL, btcdRPC)
	}

	doc := filepath.Join(t.TempDir(), "notes.txt")
	writeFile(t, doc, "dev notes\n")
	wantCLI(t, exitOK, "stamp", "--server", server, doc)
	proof := doc + ".proof.json"
	waitFor(t, waitLimit, "upgraded", func() (bool, error) {
		code, out, errOut := cli(t, "upgrade", proof)
		switch code {
		case exitOK:
			return true, nil
		case exitPending:
			return false, nil
		}
		t.Fatalf("upgrade: exit %d\n%s%s", code, out, errOut)
		return false, nil
	})
	out, _ := wantCLI(t, exitOK, "verify", "--node", nodeURL, proof, doc)
	if !strings.Contains(out, "in its best chain") || !strings.Contains(out, "The document existed no later than") {
		t.Errorf("verify:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(data, "notary.db")); err != nil {
		t.Errorf("dev keeps no database in --data: %v", err)
	}
}
