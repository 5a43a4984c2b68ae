// Package btcdtest starts btcd nodes for tests.
package btcdtest

import (
	"context"
	"testing"
	"time"

	"github.com/notary-dev/notary/internal/btcdnode"
)

// StartLimit bounds a node's start in a test. It is far beyond what a start takes on a busy
// machine running many tests at once, so that only a node that never answers reaches it.
const StartLimit = 3 * time.Minute

// Start finds the btcd binary, starts a node in a fresh t.TempDir() (o.Dir is
// ignored) and stops it when the test ends. It skips the test under -short and fails
// it if the node cannot start. On failure the node's output is kept in the log.
func Start(t testing.TB, o btcdnode.Options) *btcdnode.Node {
	t.Helper()
	if testing.Short() {
		t.Skip("btcdtest: real btcd node skipped in -short mode")
	}
	o.Dir = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), StartLimit)
	defer cancel()
	n, err := btcdnode.Start(ctx, o)
	if err != nil {
		t.Fatalf("btcdtest: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("btcdtest: %v", err)
		}
	})
	return n
}

// Context returns a context for node calls in a test, cancelled when the test ends
// or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
