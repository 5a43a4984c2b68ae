package witness

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsStaySmall holds the witness client to the verification library (and what it
// imports), merkle and the signed-note package: never the service, a store or the HTTP API.
func TestImportsStaySmall(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{
		"github.com/notary-dev/notary/witness": true,
		"github.com/notary-dev/notary/notary":  true,
		"github.com/notary-dev/notary/merkle":  true,
		// the verification library's strict JSON decoder, standard library only
		"github.com/notary-dev/notary/internal/strictjson": true,
		"golang.org/x/mod/sumdb/note":                      true,
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list printed no packages")
	}
	for _, p := range deps {
		if !allowed[p] {
			t.Errorf("the witness package depends on %s", p)
		}
	}
}
