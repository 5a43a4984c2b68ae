package notary_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsStaySmall holds the verification library to what a third party verifying a
// proof needs: the standard library, merkle, internal/strictjson and the signed-note
// package — never the service, a store, an HTTP framework or a node client, directly or
// through another package.
func TestImportsStaySmall(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{
		"github.com/notary-dev/notary/notary": true,
		"github.com/notary-dev/notary/merkle": true,
		// the standard library only
		"github.com/notary-dev/notary/internal/strictjson": true,
		"golang.org/x/mod/sumdb/note":                      true,
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list printed no packages")
	}
	for _, p := range deps {
		if !allowed[p] {
			t.Errorf("the notary package depends on %s", p)
		}
	}
}
