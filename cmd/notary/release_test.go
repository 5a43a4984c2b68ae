package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notary-dev/notary/notary"
)

// TestMakeRelease runs make release and checks what it promises: a verifier binary for
// each platform, of that platform's executable format, and the server build; SHA256SUMS
// naming each file's hash; the version stamped in; the same bytes from a second build in
// a fresh build cache; and a linux verifier that stamps, upgrades and verifies a proof
// from the local stack against the node.
func TestMakeRelease(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	const version, commit = "v0.0.0-releasetest", "0123456789abcdef"
	makeRelease := func(dist string, env []string, vars ...string) {
		t.Helper()
		args := append([]string{"-C", root, "release", "DIST=" + dist, "VERSION=" + version, "COMMIT=" + commit}, vars...)
		cmd := exec.Command("make", args...)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	dist := t.TempDir()
	makeRelease(dist, nil)

	magic := map[string][]byte{
		"notary-linux-amd64":        []byte("\x7fELF"),
		"notary-linux-arm64":        []byte("\x7fELF"),
		"notary-darwin-amd64":       {0xcf, 0xfa, 0xed, 0xfe},
		"notary-darwin-arm64":       {0xcf, 0xfa, 0xed, 0xfe},
		"notary-windows-amd64.exe":  []byte("MZ"),
		"notary-windows-arm64.exe":  []byte("MZ"),
		"notary-server-linux-amd64": []byte("\x7fELF"),
	}
	sums := map[string]string{}
	f, err := os.Open(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: line %q", sc.Text())
		}
		sums[name] = sum
	}
	f.Close()
	for name, m := range magic {
		data, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Errorf("make release made no %s: %v", name, err)
			continue
		}
		if !bytes.HasPrefix(data, m) {
			t.Errorf("%s starts with %x, not an executable of its platform (%x)", name, data[:min(8, len(data))], m)
		}
		h := sha256.Sum256(data)
		if sums[name] != hex.EncodeToString(h[:]) {
			t.Errorf("SHA256SUMS gives %s %q, the file's is %x", name, sums[name], h)
		}
	}
	if len(sums) != len(magic) {
		t.Errorf("SHA256SUMS names %d files, want %d: %v", len(sums), len(magic), sums)
	}

	verifier := filepath.Join(dist, "notary-linux-amd64")
	for bin, kind := range map[string]string{verifier: "verifier and client build", filepath.Join(dist, "notary-server-linux-amd64"): "server build"} {
		r := execNotary(t, bin, dist, "version")
		if r.code != exitOK || !strings.HasPrefix(r.stdout, "notary "+version+"\ncommit "+commit+"\n") || !strings.Contains(r.stdout, kind) {
			t.Errorf("%s version: exit %d\n%s%s", filepath.Base(bin), r.code, r.stdout, r.stderr)
		}
	}

	// The same bytes again, compiled afresh.
	again := t.TempDir()
	makeRelease(again, []string{"GOCACHE=" + t.TempDir()}, "VERIFIER_TARGETS=linux/amd64", "SERVER_TARGETS=")
	first, second := mustRead(t, verifier), mustRead(t, filepath.Join(again, "notary-linux-amd64"))
	if !bytes.Equal(first, second) {
		t.Errorf("two builds of notary-linux-amd64 differ: %d and %d bytes", len(first), len(second))
	}

	// The release's verifier against the local stack: stamp, upgrade, verify with the node.
	c := startChain(t)
	s := startStack(t, c, stackOptions{})
	c.mine(t, matureBlocks)
	work := t.TempDir()
	doc := filepath.Join(work, "contract.txt")
	writeFile(t, doc, "signed on the day it was written\n")
	if r := execNotary(t, verifier, work, "stamp", "--server", s.url, "contract.txt"); r.code != exitOK {
		t.Fatalf("release verifier stamp: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	d, err := hashFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	mineUntilConfirmed(t, c, s.url, []notary.Digest{d})
	if r := execNotary(t, verifier, work, "upgrade", "contract.txt.proof.json"); r.code != exitOK {
		t.Fatalf("release verifier upgrade: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := execNotary(t, verifier, work, "verify", "--node", c.rpcURL(), "--key", s.logKey(t), "contract.txt.proof.json", "contract.txt")
	if r.code != exitOK || !strings.Contains(r.stdout, "has this block at height") || !strings.Contains(r.stdout, "The document existed no later than") {
		t.Fatalf("release verifier verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
