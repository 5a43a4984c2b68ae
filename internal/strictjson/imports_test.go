package strictjson_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly holds the decoder to the standard library, so that the
// verification library can use it.
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) != 1 || deps[0] != "github.com/notary-dev/notary/internal/strictjson" {
		t.Errorf("internal/strictjson depends on %v, want the standard library only", deps)
	}
}
