package btcdnode

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestEnsureBinaryBuildsOnce builds btcd into a scratch module root (a copy of
// go.mod and go.sum) from several goroutines at once.
func TestEnsureBinaryBuildsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds btcd: skipped in -short mode")
	}
	src, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	paths := make([]string, 3)
	for i := range paths {
		wg.Go(func() {
			p, err := ensureBinary(root)
			if err != nil {
				t.Error(err)
			}
			paths[i] = p
		})
	}
	wg.Wait()
	want := filepath.Join(root, "bin", "btcd")
	for _, p := range paths {
		if p != want {
			t.Errorf("ensureBinary() = %q, want %q", p, want)
		}
	}
	if !isExecutable(want) {
		t.Fatal("no executable was built")
	}
	entries, _ := os.ReadDir(filepath.Join(root, "bin"))
	for _, e := range entries {
		if e.Name() != "btcd" && e.Name() != ".btcd-build.lock" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestIsModuleRoot(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		content string
		want    bool
	}{
		{"module github.com/notary-dev/notary\n\ngo 1.26\n", true},
		{"module \"github.com/notary-dev/notary\"\n", true},
		{"module github.com/notary-dev/notary/sub\n", false},
		{"// module github.com/notary-dev/notary\n", false},
	} {
		p := filepath.Join(dir, "go.mod")
		os.WriteFile(p, []byte(tt.content), 0o644)
		if got := isModuleRoot(p); got != tt.want {
			t.Errorf("isModuleRoot(%q) = %v, want %v", tt.content, got, tt.want)
		}
	}
	if isModuleRoot(filepath.Join(dir, "missing")) {
		t.Error("a missing go.mod is a module root")
	}
}
