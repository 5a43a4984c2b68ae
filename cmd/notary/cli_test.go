package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRunUsage checks what run answers to help and to commands it cannot carry out: help on
// stdout with exit 0; otherwise exit 2, one error line, and a hint where one helps.
func TestRunUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	proof := filepath.Join(dir, "x.proof.json")
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout []string // for exit 0
		inStderr []string
	}{
		{"no command", nil, exitUsage, nil, []string{"Usage:", "notary verify"}},
		{"help", []string{"help"}, exitOK, []string{"Usage:", "Examples:", "Exit status of verify"}, nil},
		{"--help", []string{"--help"}, exitOK, []string{"Usage:", "notary stamp"}, nil},
		{"-h", []string{"-h"}, exitOK, []string{"Usage:", "notary stamp"}, nil},
		{"help verify", []string{"help", "verify"}, exitOK, []string{"Usage: notary verify", "-node"}, nil},
		{"help of no command", []string{"help", "verfy"}, exitUsage, nil, []string{`error: unknown command "verfy"`, `did you mean "verify"?`}},
		{"unknown command", []string{"frobnicate"}, exitUsage, nil, []string{`error: unknown command "frobnicate"`, "hint: ", "notary help"}},
		{"misspelt command", []string{"verfy", proof}, exitUsage, nil, []string{`error: unknown command "verfy"`, `hint: did you mean "verify"?`}},
		{"command as flag", []string{"--verify"}, exitUsage, nil, []string{`error: unknown command "--verify"`, `hint: did you mean "verify"?`}},
		{"verify without args", []string{"verify"}, exitUsage, nil, []string{"Usage: notary verify", "error: verify takes a proof file"}},
		{"verify too many args", []string{"verify", proof, "doc", "more"}, exitUsage, nil, []string{"error: verify takes a proof file"}},
		{"verify unknown flag", []string{"verify", "--bogus", proof}, exitUsage, nil, []string{"error: notary verify has no flag --bogus", `hint: run "notary verify -h" for its flags`}},
		{"verify misspelt flag", []string{"verify", proof, "--nod", "http://127.0.0.1:1"}, exitUsage, nil, []string{"error: notary verify has no flag --nod", "hint: did you mean --node?"}},
		{"verify misspelt flag, one dash", []string{"verify", "-exploer", "http://127.0.0.1:1", proof}, exitUsage, nil, []string{"has no flag --exploer", "did you mean --explorer?"}},
		{"verify flag without value", []string{"verify", proof, "--node"}, exitUsage, nil, []string{"error: flag needs an argument: -node", "hint: "}},
		{"verify -h", []string{"verify", "-h"}, exitOK, []string{"Usage: notary verify", "-node", "-explorer", "-block", "-key", "-keys", "Exit status:"}, nil},
		{"verify -h after args", []string{"verify", proof, "-h"}, exitOK, []string{"Usage: notary verify"}, nil},
		{"verify bad --digest", []string{"verify", "--digest", "abc", proof}, exitUsage, nil, []string{"error: "}},
		{"stamp without file", []string{"stamp"}, exitUsage, nil, []string{"error: stamp takes"}},
		{"stamp missing file", []string{"stamp", "--server", "http://127.0.0.1:1", filepath.Join(dir, "nope")}, exitUsage, nil, []string{"error: ", "nope"}},
		{"upgrade without file", []string{"upgrade"}, exitUsage, nil, []string{"error: upgrade takes one proof file"}},
		{"info without file", []string{"info"}, exitUsage, nil, []string{"error: info takes one proof file"}},
		{"info missing file", []string{"info", proof}, exitUsage, nil, []string{"error: ", "x.proof.json"}},
		{"wallet without database", []string{"wallet", "--data", dir}, exitUsage, nil, []string{"error: no notary database at " + filepath.Join(dir, "notary.db"), "hint: "}},
		{"serve bad network", []string{"serve", "--data", filepath.Join(dir, "serve"), "--addr", "127.0.0.1:0", "--network", "moonnet"}, exitUsage, nil, []string{`error: --network "moonnet"`}},
		{"serve bad public URL", []string{"serve", "--data", filepath.Join(dir, "serve"), "--addr", "127.0.0.1:0", "--public-url", "notary.example"}, exitUsage, nil, []string{`error: --public-url: service "notary.example" is not an http or https URL`}},
		{"serve bad node URL", []string{"serve", "--data", filepath.Join(dir, "serve"), "--node", "::nonsense"}, exitUsage, nil, []string{"error: --node"}},
		{"apikey misspelt subcommand", []string{"apikey", "revok", "x", "--data", dir}, exitUsage, nil, []string{`unknown apikey subcommand "revok"`, `did you mean "revoke"?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, tt.args...)
			if code != tt.code {
				t.Fatalf("notary %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tt.args, " "), code, tt.code, stdout, stderr)
			}
			for _, want := range tt.inStdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("notary %s: stdout lacks %q:\n%s", strings.Join(tt.args, " "), want, stdout)
				}
			}
			for _, want := range tt.inStderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("notary %s: stderr lacks %q:\n%s", strings.Join(tt.args, " "), want, stderr)
				}
			}
			if code == exitOK && stderr != "" {
				t.Errorf("notary %s: help wrote to stderr:\n%s", strings.Join(tt.args, " "), stderr)
			}
			if code != exitOK && stdout != "" {
				t.Errorf("notary %s: failed but wrote to stdout:\n%s", strings.Join(tt.args, " "), stdout)
			}
			if code != exitOK && strings.Count(stderr, "error: ") != 1 {
				t.Errorf("notary %s: want one error line:\n%s", strings.Join(tt.args, " "), stderr)
			}
		})
	}
}

// TestHelpListsOwnFlags checks that every command's help lists the flags it takes and no
// other command's, and no empty Flags section.
func TestHelpListsOwnFlags(t *testing.T) {
	t.Parallel()
	for _, c := range commandList() {
		t.Run(c.name, func(t *testing.T) {
			stdout, _ := wantCLI(t, exitOK, c.name, "-h")
			if !strings.Contains(stdout, "notary "+c.name) {
				t.Errorf("notary %s -h does not name the command:\n%s", c.name, stdout)
			}
			if strings.Contains(stdout, "Flags") && !strings.Contains(stdout, "  -") {
				t.Errorf("notary %s -h shows an empty Flags section:\n%s", c.name, stdout)
			}
			if c.name != "serve" && strings.Contains(stdout, "-anon-rate") {
				t.Errorf("notary %s -h lists serve's flags:\n%s", c.name, stdout)
			}
			if c.name != "serve" && c.name != "dev" && strings.Contains(stdout, "-public-url") {
				t.Errorf("notary %s -h lists serve's --public-url:\n%s", c.name, stdout)
			}
		})
	}
}

// TestNearest checks the misspelling suggestions.
func TestNearest(t *testing.T) {
	t.Parallel()
	names := []string{"node", "explorer", "block", "key", "keys", "digest"}
	for _, tt := range []struct{ in, want string }{
		{"nod", "node"}, {"exploer", "explorer"}, {"digets", "digest"}, {"dgiest", "digest"},
		{"keys", "keys"}, {"x", ""}, {"zzzzzz", ""}, {"", ""}, {"nodes", "node"},
	} {
		if got := nearest(tt.in, names); got != tt.want {
			t.Errorf("nearest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"flaw", "lawn", 2}, {"same", "same", 0}} {
		if got := editDistance(tt.a, tt.b); got != tt.d || editDistance(tt.b, tt.a) != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.d)
		}
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
