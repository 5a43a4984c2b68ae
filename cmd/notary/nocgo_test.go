package main

// The verifier build: CGO_ENABLED=0, no SQLite. It must give every proof and .ots file the
// same verdict, the same lines and the same exit status as the full build, and refuse the
// commands that need a database in words that say how to get the build that has one.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/notary"
)

// verifierBin is the CGO_ENABLED=0 build of this package, built by the first test that
// needs it.
var verifierBin struct {
	once sync.Once
	path string
	err  error
}

// verifierBinary builds this package with CGO_ENABLED=0 into the test binary's own
// directory and returns its path.
func verifierBinary(t *testing.T) string {
	t.Helper()
	verifierBin.once.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			verifierBin.err = err
			return
		}
		verifierBin.path = filepath.Join(filepath.Dir(exe), "notary-verifier")
		cmd := exec.Command("go", "build", "-o", verifierBin.path, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			verifierBin.err = fmt.Errorf("CGO_ENABLED=0 go build: %v\n%s", err, out.Bytes())
		}
	})
	if verifierBin.err != nil {
		t.Fatal(verifierBin.err)
	}
	return verifierBin.path
}

// execResult is what one run of a notary binary gave.
type execResult struct {
	code           int
	stdout, stderr string
}

// execNotary runs the binary bin with args in dir, with no NOTARY_ variables in its
// environment. A binary that cannot be run fails the test (from any goroutine) and gives
// exit -1.
func execNotary(t *testing.T, bin, dir string, args ...string) execResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NOTARY_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Errorf("%s %s: %v", bin, strings.Join(args, " "), err)
		return execResult{code: -1}
	}
	return execResult{cmd.ProcessState.ExitCode(), out.String(), errOut.String()}
}

// TestVerifierBuildSameVerdicts runs verify and info on every golden proof (with no key,
// with the log's key and with a trusted block), .ots file and RFC 3161 token, in the full
// build and in the CGO_ENABLED=0 build, and requires the same output and exit status.
func TestVerifierBuildSameVerdicts(t *testing.T) {
	t.Parallel()
	full, verifier := notaryBinary(t), verifierBinary(t)

	proofsDir, err := filepath.Abs(filepath.Join("..", "..", "notary", "testdata", "proofs"))
	if err != nil {
		t.Fatal(err)
	}
	otsDir, err := filepath.Abs(filepath.Join("..", "..", "ots", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	complete, err := notary.ParseProof(mustRead(t, filepath.Join(proofsDir, "valid-complete.json")))
	if err != nil {
		t.Fatal(err)
	}
	block := notary.ReverseHex(notary.Header(complete.Bitcoin.Header).Hash())

	type run struct {
		dir  string
		args []string
	}
	var runs []run
	proofs, _ := filepath.Glob(filepath.Join(proofsDir, "*.json"))
	for _, p := range proofs {
		name := filepath.Base(p)
		if name == "manifest.json" {
			continue
		}
		runs = append(runs,
			run{proofsDir, []string{"verify", name}},
			run{proofsDir, []string{"verify", "--key", logtest.LogVkey, name}},
			run{proofsDir, []string{"verify", "--key", logtest.LogVkey, "--block", block, name}},
			run{proofsDir, []string{"info", name}},
		)
	}
	otsFiles, _ := filepath.Glob(filepath.Join(otsDir, "*.ots"))
	for _, f := range otsFiles {
		name := filepath.Base(f)
		runs = append(runs, run{otsDir, []string{"verify", name}}, run{otsDir, []string{"info", name}})
		if doc := strings.TrimSuffix(name, ".ots"); fileExists(filepath.Join(otsDir, doc)) {
			runs = append(runs, run{otsDir, []string{"verify", name, doc}})
		}
	}
	tsaDir, err := filepath.Abs(filepath.Join("..", "..", "tsa", "testdata", "openssl"))
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := filepath.Glob(filepath.Join(tsaDir, "*.ts[qr]"))
	for _, f := range tokens {
		name := filepath.Base(f)
		runs = append(runs, run{tsaDir, []string{"verify", name}}, run{tsaDir, []string{"verify", name, "doc.txt"}}, run{tsaDir, []string{"info", name}})
	}
	if len(proofs) < 50 || len(otsFiles) < 25 || len(tokens) < 2 {
		t.Fatalf("found %d golden proofs, %d .ots files and %d time-stamp tokens and requests; the test data has more", len(proofs), len(otsFiles), len(tokens))
	}

	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, r := range runs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			want := execNotary(t, full, r.dir, r.args...)
			got := execNotary(t, verifier, r.dir, r.args...)
			mu.Lock()
			codes[want.code]++
			mu.Unlock()
			if got != want {
				t.Errorf("notary %s: the CGO_ENABLED=0 build differs from the full build\nfull: exit %d\n%s%s\nverifier: exit %d\n%s%s",
					strings.Join(r.args, " "), want.code, want.stdout, want.stderr, got.code, got.stdout, got.stderr)
			}
		})
	}
	wg.Wait()
	// The runs reach every verdict, or the comparison proves less than it says.
	for _, code := range []int{exitOK, exitInvalid, exitPending, exitUnchecked, exitPendingOwnKey} {
		if codes[code] == 0 {
			t.Errorf("no run exited %d; exits seen: %v", code, codes)
		}
	}
}

// TestVerifierBuildRefusesDatabaseCommands checks that the CGO_ENABLED=0 build refuses
// every command that needs the log's database, with exit 2 and how to get the server
// build, and says what it is in "notary version".
func TestVerifierBuildRefusesDatabaseCommands(t *testing.T) {
	t.Parallel()
	bin := verifierBinary(t)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"serve", "--data", dir},
		{"dev"},
		{"wallet", "--data", dir},
		{"apikey", "list", "--data", dir},
		{"audit", "--data", dir},
		{"migrate", "--data", dir, "--to", "postgres://127.0.0.1:1/x"},
		{"backup", "--data", dir, filepath.Join(dir, "copy.db")},
		{"reorigin", "--data", dir, "--origin", "notary.example/log2"},
		{"tiles", "export", "--data", dir, filepath.Join(dir, "mirror")},
		{"serve", "-h"},
	} {
		r := execNotary(t, bin, dir, args...)
		if r.code != exitUsage || r.stdout != "" ||
			!strings.Contains(r.stderr, "error: notary "+args[0]+" needs the log's database, and this notary was built without one") ||
			!strings.Contains(r.stderr, "hint: ") || !strings.Contains(r.stderr, "CGO_ENABLED=1 go install") {
			t.Errorf("notary %s in the CGO_ENABLED=0 build: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("the refused commands left %v in the data directory (%v)", entries, err)
	}
	r := execNotary(t, bin, dir, "version")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "notary ") || !strings.Contains(r.stdout, "verifier and client build") {
		t.Errorf("notary version in the CGO_ENABLED=0 build: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = execNotary(t, notaryBinary(t), dir, "version")
	if r.code != exitOK || !strings.Contains(r.stdout, "server build") {
		t.Errorf("notary version in the full build: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
