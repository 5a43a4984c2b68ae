package tsa_test

import (
	"bytes"
	"crypto"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/notary-dev/notary/tsa"
)

var update = flag.Bool("update", false, "regenerate testdata/ with openssl")

// TestGolden reads what openssl made, kept in testdata/ (go test ./tsa -run TestGolden
// -update makes it again): its requests for each hash, with nonce and certReq, parse and
// re-encode byte for byte; its token, as a TSA, verifies against the root kept beside it,
// for the document kept beside it.
func TestGolden(t *testing.T) {
	dir := filepath.Join("testdata", "openssl")
	if *update {
		regenerate(t, dir)
	}
	for _, tt := range []struct {
		file  string
		hash  crypto.Hash
		nonce bool
	}{
		{"sha256.tsq", crypto.SHA256, true},
		{"sha384.tsq", crypto.SHA384, false},
		{"sha512.tsq", crypto.SHA512, true},
	} {
		der, err := os.ReadFile(filepath.Join(dir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		r, err := tsa.ParseRequest(der)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if r.Hash != tt.hash || (r.Nonce != nil) != tt.nonce || !r.CertReq {
			t.Errorf("%s: read as %+v", tt.file, r)
		}
		again, _ := r.Marshal()
		if !bytes.Equal(again, der) {
			t.Errorf("%s: re-encodes as %x", tt.file, again)
		}
	}
	rootPEM, err := os.ReadFile(filepath.Join(dir, "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := tsa.ParseCertificates(rootPEM)
	if err != nil {
		t.Fatal(err)
	}
	der, err := os.ReadFile(filepath.Join(dir, "sha256.tsr"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tsa.ParseResponse(der)
	if err != nil || resp.Token == nil {
		t.Fatalf("sha256.tsr: %v", err)
	}
	if _, err := resp.Token.Verify(tsa.VerifyOptions{Roots: roots(root...)}); err != nil {
		t.Errorf("openssl's token: %v", err)
	}
	doc, _ := os.ReadFile(filepath.Join(dir, "doc.txt"))
	if err := resp.Token.Info.CheckData(bytes.NewReader(doc)); err != nil {
		t.Error(err)
	}
	if resp.Token.Info.Policy.String() != "1.2.3.4.1" || resp.Token.Info.Accuracy != 2500*time.Millisecond {
		t.Errorf("openssl's token read as %+v", resp.Token.Info)
	}
}

// regenerate makes testdata/openssl again with openssl: requests, and a token from
// openssl acting as a TSA with a new chain.
func regenerate(t *testing.T, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	writeFile(t, filepath.Join(abs, "doc.txt"), []byte("a document openssl time-stamped\n"))
	openssl(t, abs, "ts", "-query", "-data", "doc.txt", "-sha256", "-cert", "-out", "sha256.tsq")
	openssl(t, abs, "ts", "-query", "-data", "doc.txt", "-sha384", "-cert", "-no_nonce", "-out", "sha384.tsq")
	openssl(t, abs, "ts", "-query", "-data", "doc.txt", "-sha512", "-cert", "-out", "sha512.tsq")
	ch, err := tsa.GenerateChain("golden", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	key, _ := tsa.EncodeKey(ch.LeafKey)
	writeFile(t, filepath.Join(tmp, "leaf.pem"), tsa.EncodeCertificates(ch.Leaf))
	writeFile(t, filepath.Join(tmp, "leaf.key"), key)
	writeFile(t, filepath.Join(tmp, "serial"), []byte("01\n"))
	writeFile(t, filepath.Join(tmp, "tsa.cnf"), []byte("[ tsa ]\ndefault_tsa = c\n[ c ]\nserial = ./serial\nsigner_cert = ./leaf.pem\n"+
		"signer_key = ./leaf.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256\n"+
		"accuracy = secs:2, millisecs:500\ntsa_name = yes\ness_cert_id_alg = sha256\n"))
	openssl(t, tmp, "ts", "-reply", "-config", "tsa.cnf", "-queryfile", filepath.Join(abs, "sha256.tsq"), "-out", filepath.Join(abs, "sha256.tsr"))
	writeFile(t, filepath.Join(abs, "root.pem"), tsa.EncodeCertificates(ch.Root))
}
