package tsa_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsStaySmall holds the package to what a verifier of tokens needs: the standard
// library and cryptobyte, never the service, a store or an HTTP framework.
func TestImportsStaySmall(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{
		"github.com/notary-dev/notary/tsa":    true,
		"golang.org/x/crypto/cryptobyte":      true,
		"golang.org/x/crypto/cryptobyte/asn1": true,
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list printed no packages")
	}
	for _, p := range deps {
		if !allowed[p] {
			t.Errorf("the tsa package depends on %s", p)
		}
	}
}
