// Package reftest runs the OpenTimestamps reference implementation, Debian's
// python3-opentimestamps under /usr/bin/python3, for notary's interoperability tests.
//
// The tests that use it are part of "make test" and fail, never skip, where the reference
// is missing: .ci/run installs it; elsewhere, apt-get install python3-opentimestamps.
package reftest

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Python is the interpreter the reference is installed for.
const Python = "/usr/bin/python3"

//go:embed reference.py
var script []byte

// Require fails the test unless the reference implementation is installed.
func Require(t testing.TB) {
	t.Helper()
	out, err := exec.Command(Python, "-c", "import opentimestamps.core.timestamp, bitcoin.core").CombinedOutput()
	if err != nil {
		t.Fatalf("the OpenTimestamps reference implementation is missing (%v: %s)\n"+
			"install python3-opentimestamps: apt-get install -y python3-opentimestamps (.ci/run does it)", err, bytes.TrimSpace(out))
	}
}

// Run runs a command of the driver (reference.py) with stdin and returns the JSON objects
// it prints, one per line. It fails the test if the driver fails or runs over a minute.
func Run(t testing.TB, stdin []byte, args ...string) []json.RawMessage {
	t.Helper()
	Require(t)
	path := filepath.Join(t.TempDir(), "reference.py")
	if err := os.WriteFile(path, script, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Python, append([]string{path}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("reference %v: %v\n%s", args, err, stderr.Bytes())
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("reference %v: still running after a minute\n%s", args, stderr.Bytes())
	}
	var lines []json.RawMessage
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		lines = append(lines, json.RawMessage(bytes.Clone(sc.Bytes())))
	}
	return lines
}

// Decode decodes a JSON object the driver printed into v, failing the test on error.
func Decode(t testing.TB, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("reference printed %s: %v", raw, err)
	}
}

// Parsed is what the driver's parse command prints for one file.
type Parsed struct {
	OK           bool        `json:"ok"`
	Error        string      `json:"error"`
	Hex          string      `json:"hex"` // the file re-serialized by the reference
	Digest       string      `json:"digest"`
	HashOp       string      `json:"hash_op"`
	Attestations [][3]string `json:"attestations"` // message, tag, payload (hex), sorted
}

// Parse has the reference parse and re-serialize each file.
func Parse(t testing.TB, files [][]byte) []Parsed {
	t.Helper()
	var in bytes.Buffer
	for _, f := range files {
		in.WriteString(hex.EncodeToString(f))
		in.WriteByte('\n')
	}
	lines := Run(t, in.Bytes(), "parse")
	if len(lines) != len(files) {
		t.Fatalf("reference parsed %d files, want %d", len(lines), len(files))
	}
	out := make([]Parsed, len(lines))
	for i, l := range lines {
		Decode(t, l, &out[i])
	}
	return out
}
