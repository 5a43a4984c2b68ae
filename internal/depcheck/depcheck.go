// Package depcheck holds a package to the dependencies it is meant to have: its test calls
// Only with what it may import beyond the standard library.
package depcheck

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Only fails t unless every package that the package in the test's directory depends on,
// directly or through others, for this build, is in the standard library, is the package
// itself, or is one of allowed (import paths).
func Only(t testing.TB, allowed ...string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	self := strings.TrimSpace(string(out))
	out, err = exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, self) {
		t.Fatalf("go list -deps did not list %s itself: %q", self, deps)
	}
	for _, p := range deps {
		if p != self && !slices.Contains(allowed, p) {
			t.Errorf("%s depends on %s", self, p)
		}
	}
}
