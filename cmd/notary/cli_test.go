package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notary-dev/notary/notary"
)

// TestRunUsage checks what run answers to help and to commands it cannot carry out: help on
// stdout with exit 0; otherwise exit 2, one error line, and a hint where one helps.
func TestRunUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	proof := filepath.Join(dir, "x.proof.json")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	taken := busy.Addr().String()
	serveConfig := filepath.Join(dir, "serve.conf")
	writeFile(t, serveConfig, "addr = 127.0.0.1:0\nanon-rate = 2\ndepth = 3\nnetwork = regtest\n")
	badConfig := filepath.Join(dir, "bad.conf")
	writeFile(t, badConfig, "netwrok = regtest\n")
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
		{"stamp without file", []string{"stamp"}, exitUsage, nil, []string{"error: stamp takes one or more files, or --digest HEX"}},
		{"stamp bad --digest", []string{"stamp", "--digest", "abc"}, exitUsage, nil, []string{`error: --digest "abc"`}},
		{"stamp -h", []string{"stamp", "-h"}, exitOK, []string{"-server", "-calendar", "-digest", "repeatable", "Exit status:"}, nil},
		{"upgrade -h", []string{"upgrade", "-h"}, exitOK, []string{"-server", "Exit status:", "3  not complete yet"}, nil},
		{"info -h", []string{"info", "-h"}, exitOK, []string{"Usage: notary info", "Exit status:", "3  a pending proof"}, nil},
		{"stamp missing file", []string{"stamp", "--server", "http://127.0.0.1:1", filepath.Join(dir, "nope")}, exitUsage, nil, []string{"error: ", "nope"}},
		{"upgrade without file", []string{"upgrade"}, exitUsage, nil, []string{"error: upgrade takes one proof file"}},
		{"info without file", []string{"info"}, exitUsage, nil, []string{"error: info takes one proof file"}},
		{"info missing file", []string{"info", proof}, exitUsage, nil, []string{"error: ", "x.proof.json"}},
		{"wallet with serve's config file", []string{"wallet", "--data", dir, "--config", serveConfig}, exitUsage, nil, []string{"error: no notary database at "}},
		{"wallet with an unknown setting", []string{"wallet", "--data", dir, "--config", badConfig}, exitUsage, nil, []string{`bad.conf:1: unknown setting "netwrok"`, `hint: did you mean "network"?`}},
		{"wallet without database", []string{"wallet", "--data", dir}, exitUsage, nil, []string{"error: no notary database at " + filepath.Join(dir, "notary.db"), "hint: "}},
		{"serve bad network", []string{"serve", "--data", filepath.Join(dir, "serve"), "--addr", "127.0.0.1:0", "--network", "moonnet"}, exitUsage, nil, []string{`error: --network "moonnet"`}},
		{"serve bad public URL", []string{"serve", "--data", filepath.Join(dir, "serve"), "--addr", "127.0.0.1:0", "--public-url", "notary.example"}, exitUsage, nil, []string{`error: --public-url: service "notary.example" is not an http or https URL`}},
		{"serve bad node URL", []string{"serve", "--data", filepath.Join(dir, "serve"), "--node", "::nonsense"}, exitUsage, nil, []string{"error: --node"}},
		{"serve on a taken port", []string{"serve", "--data", filepath.Join(dir, "busy"), "--addr", taken, "--network", "regtest"}, exitUsage, nil, []string{"error: listen on " + taken, "hint: another process listens on " + taken + ": stop it, or choose another address with --addr"}},
		{"dev on a taken port", []string{"dev", "--data", filepath.Join(dir, "dev-busy"), "--addr", taken}, exitUsage, nil, []string{"error: listen on " + taken, "--addr HOST:PORT", "make run ADDR="}},
		{"dev on a taken btcd RPC port", []string{"dev", "--data", filepath.Join(dir, "dev-rpc-busy"), "--addr", "127.0.0.1:0", "--btcd-rpc", taken}, exitUsage, nil, []string{"error: starting btcd: btcdnode: the RPC address " + taken + " cannot be used", "hint: another process listens on " + taken + ": choose another --btcd-rpc"}},
		{"apikey misspelt subcommand", []string{"apikey", "revok", "x", "--data", dir}, exitUsage, nil, []string{`unknown apikey subcommand "revok"`, `did you mean "revoke"?`}},
		{"help lists tiles and monitor", []string{"help"}, exitOK, []string{"notary tiles export", "notary monitor", "Exit status of monitor"}, nil},
		{"tiles without subcommand", []string{"tiles"}, exitUsage, nil, []string{"Usage:", "error: tiles needs a subcommand"}},
		{"tiles unknown subcommand", []string{"tiles", "import"}, exitUsage, nil, []string{`error: unknown tiles subcommand "import"`}},
		{"tiles export without dir", []string{"tiles", "export", "--data", dir}, exitUsage, nil, []string{"error: tiles export takes one directory"}},
		{"tiles export without database", []string{"tiles", "export", "--data", dir, filepath.Join(dir, "out")}, exitUsage, nil, []string{"error: "}},
		{"monitor without key", []string{"monitor", "--once", "http://127.0.0.1:1"}, exitUsage, nil, []string{"error: monitor needs --key", "hint: "}},
		{"monitor bad key", []string{"monitor", "--key", "nonsense", "--once", "http://127.0.0.1:1"}, exitUsage, nil, []string{"error: --key"}},
		{"monitor without URL", []string{"monitor", "--key", "x"}, exitUsage, nil, []string{"error: monitor takes one URL"}},
		{"monitor bad URL", []string{"monitor", "--key", "notary.test/log+5eebc427+AYYa4W96Zvh8l1rOCdGjy80FoFazt85bT5EAcBKZcFx9", "--once", "ftp://x"}, exitUsage, nil, []string{"error: monitor: \"ftp://x\" is not an http or https URL"}},
		{"monitor -h", []string{"monitor", "-h"}, exitOK, []string{"Usage:", "--state", "split view", "exits 6"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, tt.args...)
			if strings.HasPrefix(tt.name, "dev") || strings.HasPrefix(tt.name, "serve") {
				stderr = errAndHint(stderr) // the service's log lines before it gave up
			}
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

// errAndHint returns the error and hint lines of stderr.
func errAndHint(stderr string) string {
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "error: ") || strings.HasPrefix(l, "hint: ") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
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

// TestVerifyMistakes checks how verify meets the ways people hand it a proof: flags after
// the files, the arguments swapped, the document left out beside its proof, and the API's
// lookup answer saved as it is.
func TestVerifyMistakes(t *testing.T) {
	t.Parallel()
	golden := func(name string) string { return filepath.Join("..", "..", "notary", "testdata", "proofs", name) }
	dir := t.TempDir()
	proof := filepath.Join(dir, "doc.pdf.proof.json")
	writeFile(t, proof, string(mustRead(t, golden("valid-pending.json"))))
	doc := filepath.Join(dir, "doc.pdf")
	writeFile(t, doc, "not the stamped bytes\n")
	lone := filepath.Join(dir, "lone.proof.json")
	writeFile(t, lone, string(mustRead(t, golden("valid-pending.json"))))
	envelope := filepath.Join("testdata", "envelopes", "lookup-pending.json")
	logKey := "notary.example/log+11b508bc+ASei22vQPCEQjzhl0nXHlLvpGIyrENIzpqQWgQ6nIf1D"

	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stdout string // in stdout
		stderr string // in stderr
	}{
		{"swapped", []string{doc, proof}, exitUsage, "", "error: the arguments are swapped: " + proof + " is a proof and " + doc + " is not"},
		{"swapped, hint", []string{doc, proof}, exitUsage, "", "hint: the proof comes first, then the document: notary verify " + proof + " " + doc},
		{"proof missing, a proof second", []string{filepath.Join(dir, "missing.pdf"), proof}, exitUsage, "", "missing.pdf: no such file"},
		{"document beside", []string{proof}, exitInvalid, "document " + doc + ": found beside the proof", "the proof is for"},
		{"document named", []string{proof, doc}, exitInvalid, "", "the proof is for"},
		{"no document beside", []string{lone}, exitPendingOwnKey, "no document given", "note: the proof is pending"},
		{"--digest instead of the document beside", []string{proof, "--digest", "9e3e6ce8b348263eef9347293d0cf189547cfef8e2f88b272892312d00a9bd87"}, exitPendingOwnKey, "", "note: "},
		{"flag after the files", []string{lone, "--key", logKey}, exitPending, "a key you trust", "note: the proof is pending"},
		{"flag between the files", []string{proof, "--key", logKey, doc}, exitInvalid, "", "the proof is for"},
		{"-- ends the flags", []string{"--key", logKey, "--", lone}, exitPending, "a key you trust", ""},
		{"lookup answer", []string{envelope, "--key", logKey}, exitPending, "is the API's lookup answer: checking the proof it holds", "note: the proof is pending"},
		{"lookup answer before a checkpoint", []string{filepath.Join("testdata", "envelopes", "lookup-before-checkpoint.json")}, exitInvalid, "", "holds no proof yet"},
		{"API error saved", []string{filepath.Join("testdata", "envelopes", "api-error.json")}, exitInvalid, "", "the API's error answer, not a proof"},
		{"lookup answer of another digest", []string{filepath.Join("testdata", "envelopes", "lookup-other-digest.json")}, exitInvalid, "", "GET /v1/timestamps/DIGEST/proof"},
		{"lookup answer of a forged proof", []string{filepath.Join("testdata", "envelopes", "lookup-tx-byte-flipped.json"), "--block", strings.Repeat("00", 32)}, exitInvalid, "", "error: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, append([]string{"verify"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("notary verify %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tt.args, " "), code, tt.code, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("notary verify %s: want %q in stdout, %q in stderr\nstdout:\n%s\nstderr:\n%s", strings.Join(tt.args, " "), tt.stdout, tt.stderr, stdout, stderr)
			}
		})
	}
}

// TestInfoAndUpgradeReadEnvelopes checks that info reads the API's lookup answer as it reads
// a proof, and upgrade of a complete one has nothing to do.
func TestInfoAndUpgradeReadEnvelopes(t *testing.T) {
	t.Parallel()
	env := filepath.Join("testdata", "envelopes", "lookup-complete.json")
	stdout, _ := wantCLI(t, exitOK, "info", env)
	if !strings.Contains(stdout, "the API's lookup answer, holding the proof") || !strings.Contains(stdout, "status            complete") {
		t.Errorf("info of a lookup answer:\n%s", stdout)
	}
	copyPath := filepath.Join(t.TempDir(), "p.json")
	writeFile(t, copyPath, string(mustRead(t, env)))
	if stdout, _ := wantCLI(t, exitOK, "upgrade", copyPath); !strings.Contains(stdout, "already complete") {
		t.Errorf("upgrade of a complete lookup answer:\n%s", stdout)
	}
}

// TestInfoExitStatus checks info's exit statuses, as its help and the README give them.
func TestInfoExitStatus(t *testing.T) {
	t.Parallel()
	golden := func(name string) string { return filepath.Join("..", "..", "notary", "testdata", "proofs", name) }
	for _, tt := range []struct {
		file string
		code int
	}{
		{golden("valid-complete.json"), exitOK},
		{filepath.Join("..", "..", "calendar", "testdata", "notary-complete.ots"), exitOK},
		{filepath.Join("testdata", "envelopes", "lookup-complete.json"), exitOK},
		{golden("tx-byte-flipped.json"), exitInvalid},
		{golden("truncated.json"), exitInvalid},
		{filepath.Join(t.TempDir(), "missing.proof.json"), exitUsage},
		{golden("valid-pending.json"), exitPending},
		{filepath.Join("..", "..", "calendar", "testdata", "notary-pending.ots"), exitPending},
	} {
		code, stdout, stderr := cli(t, "info", tt.file)
		if code != tt.code {
			t.Errorf("notary info %s: exit %d, want %d\n%s%s", tt.file, code, tt.code, stdout, stderr)
		}
	}
}

// TestUpgradeExitStatus runs upgrade against an HTTP server that answers the lookup with
// the golden proofs, and requires the exit status its help and the README give.
func TestUpgradeExitStatus(t *testing.T) {
	t.Parallel()
	golden := func(name string) string { return filepath.Join("..", "..", "notary", "testdata", "proofs", name) }
	answering := func(status, proofFile string) string {
		proof := mustRead(t, golden(proofFile))
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"status":%q,"proof":%s}`, status, proof)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	for _, tt := range []struct {
		name   string
		file   string // a copy of it is upgraded
		server string
		code   int
		want   string // in stdout or stderr
	}{
		{"complete now", "valid-pending.json", answering("confirmed", "valid-complete.json"), exitOK, "complete, block 144"},
		{"already complete", "valid-complete.json", down.URL, exitOK, "already complete"},
		{"forged answer", "valid-pending.json", answering("confirmed", "tx-byte-flipped.json"), exitInvalid, "error: the service sent a proof that does not verify"},
		{"service down", "valid-pending.json", down.URL, exitUsage, "hint: is the notary running at " + down.URL},
		{"not complete yet", "valid-pending.json", answering("pending", "valid-pending.json"), exitPending, "note: the proof is not complete yet"},
		{"lookup answer complete now", filepath.Join("testdata", "envelopes", "lookup-pending.json"), answering("confirmed", "valid-complete.json"), exitOK, "it now holds the complete proof alone"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "doc.proof.json")
			src := tt.file
			if !strings.Contains(src, string(filepath.Separator)) {
				src = golden(src)
			}
			before := mustRead(t, src)
			writeFile(t, path, string(before))
			code, stdout, stderr := cli(t, "upgrade", path, "--server", tt.server)
			if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
				t.Fatalf("notary upgrade: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, tt.code, tt.want, stdout, stderr)
			}
			after := mustRead(t, path)
			if changed := string(after) != string(before); changed != (tt.code == exitOK && tt.name != "already complete") {
				t.Errorf("the file changed: %v", changed)
			}
			if tt.code == exitOK {
				if p, err := notary.ParseProof(after); err != nil || !p.Complete() {
					t.Errorf("after upgrade, the file is not a complete proof: %v", err)
				}
			}
		})
	}
	wantCLI(t, exitUsage, "upgrade", filepath.Join(t.TempDir(), "missing.proof.json"))
}

// TestStampExitStatus stamps a digest on HTTP servers that answer with the golden proofs:
// a receipt that verifies is saved (0), one that does not is refused and nothing of it saved
// (1), a server that does not answer is an I/O error (2).
func TestStampExitStatus(t *testing.T) {
	t.Parallel()
	golden := func(name string) string { return filepath.Join("..", "..", "notary", "testdata", "proofs", name) }
	digest := "9e3e6ce8b348263eef9347293d0cf189547cfef8e2f88b272892312d00a9bd87" // the goldens'
	answering := func(proofFile string) string {
		proof := mustRead(t, golden(proofFile))
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != "/v1/timestamps" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"status":"pending","proof":%s}`, proof)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	for _, tt := range []struct {
		name    string
		servers []string
		code    int
		saved   bool
	}{
		{"a receipt that verifies", []string{answering("valid-pending.json")}, exitOK, true},
		{"a forged receipt", []string{answering("inclusion-hash-bit-flipped.json")}, exitInvalid, false},
		{"a server down", []string{down.URL}, exitUsage, false},
		{"one server down, one answering", []string{down.URL, answering("valid-pending.json")}, exitUsage, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"stamp", "--digest", digest, "--dir", dir}
			for _, s := range tt.servers {
				args = append(args, "--server", s)
			}
			code, stdout, stderr := cli(t, args...)
			if code != tt.code {
				t.Fatalf("notary %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, tt.code, stdout, stderr)
			}
			_, err := os.Stat(filepath.Join(dir, digest+".proof.json"))
			if saved := err == nil; saved != tt.saved {
				t.Errorf("proof saved: %v, want %v\n%s%s", saved, tt.saved, stdout, stderr)
			}
		})
	}
}
