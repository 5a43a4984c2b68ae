package main

import (
	"crypto/sha256"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/ots"
)

// TestStampOnSeveralNotaries stamps documents and a bare digest on two real notaries, each
// on its own btcd regtest chain, one named with --server and the other with --server or
// --calendar; then the first notary disappears. The .ots file, which merges both answers,
// is still completed by the second, and the OpenTimestamps reference accepts it; the JSON
// proof, which is the first notary's alone, cannot be upgraded.
func TestStampOnSeveralNotaries(t *testing.T) {
	t.Parallel()
	c1, c2 := startChain(t), startChain(t)
	c1.mine(t, matureBlocks)
	c2.mine(t, matureBlocks)
	s1, s2 := startStack(t, c1, stackOptions{}), startStack(t, c2, stackOptions{})
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	writeFile(t, a, "document a\n")
	writeFile(t, b, "document b\n")
	da, db := notary.Digest(sha256.Sum256([]byte("document a\n"))), notary.Digest(sha256.Sum256([]byte("document b\n")))
	dc := randomDigest(t)

	// Flags after the files, both notaries as --server, a bare digest saved in --dir.
	stdout, _ := wantCLI(t, exitOK, "stamp", a, "--server", s1.url, "--server", s2.url, "--digest", dc.String(), "--dir", dir)
	for _, want := range []string{
		"stamped " + a, "notary   " + s1.url, "notary   " + s2.url, "saved " + a + ".proof.json",
		"saved " + a + ".ots (OpenTimestamps, 2 attestation(s))", "stamped " + dc.String(),
		"saved " + filepath.Join(dir, dc.String()+".proof.json"),
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stamp: output lacks %q:\n%s", want, stdout)
		}
	}
	// The second notary as an OpenTimestamps calendar.
	wantCLI(t, exitOK, "stamp", "--server", s1.url, "--calendar", s2.url, b)

	for _, path := range []string{a + ".ots", b + ".ots", filepath.Join(dir, dc.String()+".ots")} {
		var uris []string
		for _, at := range readOTSFile(t, path).Timestamp.AllAttestations() {
			if p, ok := at.Attestation.(ots.Pending); ok {
				uris = append(uris, p.URI)
			}
		}
		slices.Sort(uris)
		want := []string{s1.url, s2.url}
		slices.Sort(want)
		if !slices.Equal(uris, want) {
			t.Errorf("%s is pending at %q, want both notaries %q", filepath.Base(path), uris, want)
		}
	}
	if p := readProofFile(t, a+".proof.json"); p.Service != s1.url || p.Digest != da {
		t.Errorf("a.txt.proof.json is of %s from %s; want the first notary's proof of %s", p.Digest, p.Service, da)
	}

	// The first notary disappears; the second anchors.
	s1.stop(t)
	// A document stamped now: the notary gone fails, the other's proof is saved; exit 2.
	late := filepath.Join(dir, "late.txt")
	writeFile(t, late, "stamped after the first notary went\n")
	stdout, stderr := wantCLI(t, exitUsage, "stamp", "--server", s1.url, "--server", s2.url, late)
	if !strings.Contains(stdout, "FAILED   notary "+s1.url) || !strings.Contains(stderr, "hint: what the others answered is saved") {
		t.Errorf("stamp with one notary gone:\n%s%s", stdout, stderr)
	}
	if p := readProofFile(t, late+".proof.json"); p.Service != s2.url {
		t.Errorf("late.txt.proof.json is from %s, want the notary that answered (%s)", p.Service, s2.url)
	}
	mineUntilConfirmed(t, c2, s2.url, []notary.Digest{da, db, dc})

	_, stderr = wantCLI(t, exitUsage, "upgrade", a+".proof.json")
	if !strings.Contains(stderr, "is the notary running at "+s1.url) {
		t.Errorf("upgrade of the JSON proof of a notary gone:\n%s", stderr)
	}
	// The other notary logged the digest as an entry of its own: not this file's.
	_, stderr = wantCLI(t, exitInvalid, "upgrade", a+".proof.json", "--server", s2.url)
	if !strings.Contains(stderr, "upgrade the .ots file, which holds both") {
		t.Errorf("upgrade of one notary's proof from the other:\n%s", stderr)
	}
	for _, doc := range []string{a, b} {
		stdout, _ = wantCLI(t, exitOK, "upgrade", doc+".ots")
		if !strings.Contains(stdout, "calendar "+s1.url+": ") || !strings.Contains(stdout, "upgraded "+doc+".ots: complete") {
			t.Errorf("upgrade of %s.ots with one notary gone:\n%s", filepath.Base(doc), stdout)
		}
		wantCLI(t, exitOK, "verify", "--node", c2.rpcURL(), doc+".ots")
		// Like OpenTimestamps clients, upgrade keeps the pending attestations.
		if v := refVerify(t, c2, doc+".ots", doc, -1); !slices.Contains(v.Pending, s1.url) {
			t.Errorf("the reference finds %s.ots pending at %q, not at the notary gone (%s)", filepath.Base(doc), v.Pending, s1.url)
		}
	}
	// Against another chain, the block is not the one the timestamp reaches.
	c1.mine(t, 10)
	_, stderr = wantCLI(t, exitInvalid, "verify", "--node", c1.rpcURL(), a+".ots", a)
	if !strings.Contains(errLine(stderr), "the timestamp reaches") {
		t.Errorf("verify against the other chain:\n%s", stderr)
	}
}
