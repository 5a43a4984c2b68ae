package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRunUsage checks what run answers to commands it cannot carry out: exit 2, an error
// line, and a hint or the usage where one helps.
func TestRunUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	proof := filepath.Join(dir, "x.proof.json")
	tests := []struct {
		name     string
		args     []string
		code     int
		inStderr []string
	}{
		{"no command", nil, exitUsage, []string{"Usage:", "notary verify"}},
		{"help", []string{"help"}, exitOK, []string{"Usage:", "Examples:", "Exit status of verify"}},
		{"--help", []string{"--help"}, exitOK, []string{"Usage:"}},
		{"unknown command", []string{"frobnicate"}, exitUsage, []string{`error: unknown command "frobnicate"`, "hint: ", "notary help"}},
		{"command as flag", []string{"--verify"}, exitUsage, []string{`error: unknown command "--verify"`, "hint: "}},
		{"verify without args", []string{"verify"}, exitUsage, []string{"Usage: notary verify", "error: verify takes a proof file"}},
		{"verify too many args", []string{"verify", proof, "doc", "more"}, exitUsage, []string{"error: verify takes a proof file"}},
		{"verify unknown flag", []string{"verify", "--bogus", proof}, exitUsage, []string{"flag provided but not defined: -bogus", "error: "}},
		{"verify -h", []string{"verify", "-h"}, exitOK, []string{"Usage: notary verify", "-node", "-explorer", "-block", "-key", "-keys", "Exit status:"}},
		{"verify bad --digest", []string{"verify", "--digest", "abc", proof}, exitUsage, []string{"error: "}},
		{"stamp without file", []string{"stamp"}, exitUsage, []string{"error: stamp takes one file"}},
		{"stamp missing file", []string{"stamp", "--server", "http://127.0.0.1:1", filepath.Join(dir, "nope")}, exitUsage, []string{"error: ", "nope"}},
		{"upgrade without file", []string{"upgrade"}, exitUsage, []string{"error: upgrade takes one proof file"}},
		{"info without file", []string{"info"}, exitUsage, []string{"error: info takes one proof file"}},
		{"info missing file", []string{"info", proof}, exitUsage, []string{"error: ", "x.proof.json"}},
		{"wallet without database", []string{"wallet", "--data", dir}, exitUsage, []string{"error: no notary database at " + filepath.Join(dir, "notary.db"), "hint: "}},
		{"serve bad network", []string{"serve", "--data", filepath.Join(dir, "serve"), "--addr", "127.0.0.1:0", "--network", "moonnet"}, exitUsage, []string{`error: --network "moonnet"`}},
		{"serve bad public URL", []string{"serve", "--data", filepath.Join(dir, "serve"), "--addr", "127.0.0.1:0", "--public-url", "notary.example"}, exitUsage, []string{`error: --public-url: service "notary.example" is not an http or https URL`}},
		{"help lists tiles and monitor", []string{"help"}, exitOK, []string{"notary tiles export", "notary monitor", "Exit status of monitor"}},
		{"tiles without subcommand", []string{"tiles"}, exitUsage, []string{"Usage:", "error: tiles needs a subcommand"}},
		{"tiles unknown subcommand", []string{"tiles", "import"}, exitUsage, []string{`error: unknown tiles subcommand "import"`}},
		{"tiles export without dir", []string{"tiles", "export", "--data", dir}, exitUsage, []string{"error: tiles export takes one directory"}},
		{"tiles export without database", []string{"tiles", "export", "--data", dir, filepath.Join(dir, "out")}, exitUsage, []string{"error: "}},
		{"monitor without key", []string{"monitor", "--once", "http://127.0.0.1:1"}, exitUsage, []string{"error: monitor needs --key", "hint: "}},
		{"monitor bad key", []string{"monitor", "--key", "nonsense", "--once", "http://127.0.0.1:1"}, exitUsage, []string{"error: --key"}},
		{"monitor without URL", []string{"monitor", "--key", "x"}, exitUsage, []string{"error: monitor takes one URL"}},
		{"monitor bad URL", []string{"monitor", "--key", "notary.test/log+5eebc427+AYYa4W96Zvh8l1rOCdGjy80FoFazt85bT5EAcBKZcFx9", "--once", "ftp://x"}, exitUsage, []string{"error: monitor: \"ftp://x\" is not an http or https URL"}},
		{"monitor -h", []string{"monitor", "-h"}, exitOK, []string{"Usage:", "--state", "split view", "exits 6"}},
		{"serve bad node URL", []string{"serve", "--data", filepath.Join(dir, "serve"), "--node", "::nonsense"}, exitUsage, []string{"error: --node"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, tt.args...)
			if code != tt.code {
				t.Fatalf("notary %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tt.args, " "), code, tt.code, stdout, stderr)
			}
			for _, want := range tt.inStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("notary %s: stderr lacks %q:\n%s", strings.Join(tt.args, " "), want, stderr)
				}
			}
			if code != exitOK && stdout != "" {
				t.Errorf("notary %s: failed but wrote to stdout:\n%s", strings.Join(tt.args, " "), stdout)
			}
		})
	}
}

// TestStampServerDown checks that stamp says where it looked for the service.
func TestStampServerDown(t *testing.T) {
	t.Parallel()
	doc := filepath.Join(t.TempDir(), "doc.txt")
	writeFile(t, doc, "hello\n")
	_, stderr := wantCLI(t, exitUsage, "stamp", "--server", "http://127.0.0.1:1", doc)
	if !strings.Contains(stderr, "hint: is the notary running at http://127.0.0.1:1?") {
		t.Errorf("stamp with the server down:\n%s", stderr)
	}
}
