package bitcoinrpc_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly holds the client to the standard library, so that the verifier
// can ask a node without the service, a store or the anchorer.
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) != 1 || deps[0] != "github.com/notary-dev/notary/internal/bitcoinrpc" {
		t.Errorf("internal/bitcoinrpc depends on %v, want the standard library only", deps)
	}
}
