package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/tsa"
)

// TestE2ETSA runs the time-stamp authority of a whole stack on a real btcd: openssl asks
// for tokens, verify checks them against the served chain, and once the imprints are
// anchored, upgrade saves their complete proofs and verify ties each token to Bitcoin. A
// token for another file, or re-signed by another key, fails.
func TestE2ETSA(t *testing.T) {
	c := startChain(t)
	c.mine(t, matureBlocks)
	r := startStack(t, c, stackOptions{})
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is missing: run scripts/test-deps.sh (make test does)")
	}

	// The chain made on first run: keys private, the certificate RFC 3161's.
	for _, name := range []string{tsaKeyFile, tsaRootKeyFile} {
		if fi, err := os.Stat(filepath.Join(c.data, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", name, err, fi.Mode())
		}
	}
	chainPEM := httpGet(t, r.url+"/tsa/certchain")
	certs, err := tsa.ParseCertificates(chainPEM)
	if err != nil || len(certs) != 2 {
		t.Fatalf("GET /tsa/certchain: %v, %d certificates", err, len(certs))
	}
	if err := tsa.CheckTSACertificate(certs[0]); err != nil {
		t.Error(err)
	}
	dir := t.TempDir()
	chainFile := filepath.Join(dir, "chain.pem")
	writeFile(t, chainFile, string(chainPEM))

	// One document stamped with SHA-256 (the token carries the certificate) and one with
	// SHA-512 (it does not).
	tokens := map[string]string{}
	var digests []notary.Digest
	for _, hash := range []string{"sha256", "sha512"} {
		doc := filepath.Join(dir, hash+".pdf")
		writeFile(t, doc, "a contract signed with "+hash+"\n")
		args := []string{"ts", "-query", "-data", doc, "-" + hash}
		if hash == "sha256" {
			args = append(args, "-cert")
		}
		query, err := exec.Command(openssl, args...).Output()
		if err != nil {
			t.Fatalf("openssl ts -query: %v", err)
		}
		resp, err := httpClient.Post(r.url+"/tsa", "application/timestamp-query", bytes.NewReader(query))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tsr := doc + ".tsr"
		writeFile(t, tsr, string(body))
		tokens[hash] = tsr
		verify := []string{"ts", "-verify", "-data", doc, "-in", tsr, "-CAfile", chainFile, "-untrusted", chainFile}
		if out, err := exec.Command(openssl, verify...).CombinedOutput(); err != nil || !bytes.Contains(out, []byte("Verification: OK")) {
			t.Fatalf("openssl ts -verify: %v\n%s", err, out)
		}
		tok, ok, err := readToken(tsr)
		if !ok || err != nil {
			t.Fatalf("readToken: %v %v", ok, err)
		}
		d := notary.Digest(tsa.EntryDigest(tok.Info.Hash, tok.Info.HashedMessage))
		ts := mustLookup(t, r.url, d) // the token's imprint is in the log
		if index, _ := tsa.SerialIndex(tok.Info.SerialNumber); ts.Index != index {
			t.Errorf("the token names entry %d; the log has its imprint at %d", index, ts.Index)
		}
		digests = append(digests, d)
	}
	sha256Doc := filepath.Join(dir, "sha256.pdf")
	sum := sha256.Sum256([]byte("a contract signed with sha256\n"))
	if digests[0] != notary.Digest(sum) {
		t.Error("a SHA-256 imprint is not logged as the document's digest")
	}

	stdout, _ := wantCLI(t, exitOK, "info", tokens["sha256"])
	if !strings.Contains(stdout, "log digest       "+digests[0].String()) {
		t.Errorf("info:\n%s", stdout)
	}

	// Before anchoring: valid, resting on the TSA's signature.
	_, stderr := wantCLI(t, exitPendingOwnKey, "verify", tokens["sha256"], sha256Doc)
	if !strings.Contains(stderr, "--tsa-ca") {
		t.Errorf("verify without --tsa-ca does not say what to trust:\n%s", stderr)
	}
	stdout, _ = wantCLI(t, exitPending, "verify", "--tsa-ca", chainFile, tokens["sha256"], sha256Doc)
	if !hasLine(stdout, "ok   the token is signed by") {
		t.Errorf("verify:\n%s", stdout)
	}
	// The SHA-512 token carries no certificate: the chain must be given.
	wantCLI(t, exitUsage, "verify", tokens["sha512"])
	wantCLI(t, exitPending, "verify", "--tsa-ca", chainFile, tokens["sha512"], filepath.Join(dir, "sha512.pdf"))
	wantCLI(t, exitPending, "upgrade", "--server", r.url, tokens["sha256"])

	mineUntilConfirmed(t, c, r.url, digests)
	stdout, _ = wantCLI(t, exitOK, "upgrade", "--server", r.url, tokens["sha256"])
	if !strings.Contains(stdout, ".tsr.proof.json") || !strings.Contains(stdout, "OpenTimestamps") {
		t.Errorf("upgrade:\n%s", stdout)
	}
	wantCLI(t, exitOK, "upgrade", "--server", r.url, tokens["sha512"])
	if _, err := os.Stat(tokens["sha256"] + ".ots"); err != nil {
		t.Error(err)
	}

	// Anchored: the token and its proof, the block checked against the node.
	stdout, _ = wantCLI(t, exitOK, "verify", "--tsa-ca", chainFile, "--node", c.rpcURL(), tokens["sha256"], sha256Doc)
	for _, want := range []string{"ok   the token's serial number names that entry", "The document existed at "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify lacks %q:\n%s", want, stdout)
		}
	}
	wantCLI(t, exitUnchecked, "verify", "--tsa-ca", chainFile, tokens["sha256"], sha256Doc)
	wantCLI(t, exitOK, "verify", "--tsa-ca", chainFile, "--node", c.rpcURL(), "--proof", tokens["sha512"]+".proof.json",
		tokens["sha512"], filepath.Join(dir, "sha512.pdf"))
	// The .ots file of a SHA-256 token is the document's OpenTimestamps proof.
	wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), tokens["sha256"]+".ots", sha256Doc)

	// What must fail: another file; the proof of another imprint; a token re-signed by
	// another key for the same request.
	other := filepath.Join(dir, "other.pdf")
	writeFile(t, other, "not the contract\n")
	_, stderr = wantCLI(t, exitInvalid, "verify", "--tsa-ca", chainFile, tokens["sha256"], other)
	if !strings.Contains(errLine(stderr), "not the token's imprint") {
		t.Errorf("verify of another file: %s", stderr)
	}
	wantCLI(t, exitInvalid, "verify", "--tsa-ca", chainFile, "--proof", tokens["sha512"]+".proof.json", tokens["sha256"], sha256Doc)

	tok, _, _ := readToken(tokens["sha256"])
	forger, err := tsa.GenerateChain("forger", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, err := tsa.NewSigner(tsa.SignerConfig{Key: forger.LeafKey, Chain: []*x509.Certificate{forger.Leaf}})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := s.Respond(&tsa.Request{Hash: tok.Info.Hash, HashedMessage: tok.Info.HashedMessage, CertReq: true}, tok.Info.SerialNumber, tok.Info.GenTime)
	if err != nil {
		t.Fatal(err)
	}
	forgedPath := filepath.Join(dir, "forged.tsr")
	writeFile(t, forgedPath, string(forged))
	_, stderr = wantCLI(t, exitInvalid, "verify", "--tsa-ca", chainFile, "--node", c.rpcURL(), "--proof", tokens["sha256"]+".proof.json", forgedPath, sha256Doc)
	if !strings.Contains(errLine(stderr), "not trusted") {
		t.Errorf("verify of a re-signed token: %s", stderr)
	}
}

// httpGet fetches url and fails the test unless it answers 200.
func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return body
}
