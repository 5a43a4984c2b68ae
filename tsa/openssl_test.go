package tsa_test

import (
	"bytes"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/tsa"
)

// openssl runs Debian's openssl with args in dir and returns its standard output.
func openssl(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is missing: run scripts/test-deps.sh (make test does)")
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOpenSSLClient has openssl make the requests and verify the tokens this package
// issues, for each hash, with and without a nonce and certReq.
func TestOpenSSLClient(t *testing.T) {
	s, ch := testSigner(t, time.Second)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "doc"), []byte("a document to time-stamp\n"))
	writeFile(t, filepath.Join(dir, "root.pem"), tsa.EncodeCertificates(ch.Root))
	writeFile(t, filepath.Join(dir, "leaf.pem"), tsa.EncodeCertificates(ch.Leaf))
	genTime := time.Date(2026, 12, 7, 1, 2, 3, 7_000_000, time.UTC)
	for _, hash := range []string{"sha256", "sha384", "sha512"} {
		for _, nonce := range []bool{false, true} {
			for _, cert := range []bool{false, true} {
				name := hash
				args := []string{"ts", "-query", "-data", "doc", "-" + hash, "-out", "req.tsq"}
				if nonce {
					name += "-nonce"
				} else {
					args = append(args, "-no_nonce")
				}
				if cert {
					name += "-cert"
					args = append(args, "-cert")
				}
				t.Run(name, func(t *testing.T) {
					openssl(t, dir, args...)
					der, err := os.ReadFile(filepath.Join(dir, "req.tsq"))
					if err != nil {
						t.Fatal(err)
					}
					req, err := tsa.ParseRequest(der)
					if err != nil {
						t.Fatal(err)
					}
					if (req.Nonce != nil) != nonce || req.CertReq != cert {
						t.Fatalf("parsed nonce %v certReq %v from openssl's request", req.Nonce, req.CertReq)
					}
					resp, err := s.Respond(req, big.NewInt(42), genTime)
					if err != nil {
						t.Fatal(err)
					}
					writeFile(t, filepath.Join(dir, "resp.tsr"), resp)
					verify := []string{"ts", "-verify", "-queryfile", "req.tsq", "-in", "resp.tsr", "-CAfile", "root.pem"}
					if !cert {
						verify = append(verify, "-untrusted", "leaf.pem")
					}
					if out := openssl(t, dir, verify...); !bytes.Contains(out, []byte("Verification: OK")) {
						t.Errorf("openssl ts -verify: %s", out)
					}
					text := string(openssl(t, dir, "ts", "-reply", "-in", "resp.tsr", "-text"))
					for _, want := range []string{
						"Status: Granted.", "Policy OID: " + tsa.DefaultPolicy, "Hash Algorithm: " + hash,
						"Serial number: 0x2A", "Time stamp: Dec  7 01:02:03.007 2026 GMT",
						"Accuracy: 0x01 seconds, unspecified millis, unspecified micros", "Ordering: no",
						"TSA: DirName:/CN=test TSA",
					} {
						if !strings.Contains(text, want) {
							t.Errorf("openssl ts -reply -text lacks %q:\n%s", want, text)
						}
					}
					if nonce == strings.Contains(text, "Nonce: unspecified") {
						t.Errorf("nonce %v, but openssl reads:\n%s", nonce, text)
					}
				})
			}
		}
	}
}

// TestOpenSSLAuthority has openssl issue a token, as a TSA, that Verify accepts: the
// verifier is not only consistent with this package's signer.
func TestOpenSSLAuthority(t *testing.T) {
	_, ch := testSigner(t, 0)
	dir := t.TempDir()
	key, err := tsa.EncodeKey(ch.LeafKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "doc"), []byte("another document\n"))
	writeFile(t, filepath.Join(dir, "leaf.pem"), tsa.EncodeCertificates(ch.Leaf))
	writeFile(t, filepath.Join(dir, "leaf.key"), key)
	writeFile(t, filepath.Join(dir, "serial"), []byte("07\n")) // openssl issues the next, 8
	writeFile(t, filepath.Join(dir, "tsa.cnf"), []byte(`[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = ./serial
signer_cert = ./leaf.pem
signer_key = ./leaf.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:2, millisecs:500
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`))
	openssl(t, dir, "ts", "-query", "-data", "doc", "-sha384", "-cert", "-out", "req.tsq")
	openssl(t, dir, "ts", "-reply", "-config", "tsa.cnf", "-queryfile", "req.tsq", "-out", "resp.tsr")
	der, err := os.ReadFile(filepath.Join(dir, "resp.tsr"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tsa.ParseResponse(der)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != tsa.StatusGranted || resp.Token == nil {
		t.Fatalf("openssl's response: status %d %q", resp.Status, resp.StatusText)
	}
	info := resp.Token.Info
	if info.SerialNumber.Int64() != 8 || info.Policy.String() != "1.2.3.4.1" || info.Accuracy != 2500*time.Millisecond || info.Nonce == nil {
		t.Errorf("openssl's token read as %+v", info)
	}
	doc, _ := os.ReadFile(filepath.Join(dir, "doc"))
	if err := info.CheckData(bytes.NewReader(doc)); err != nil {
		t.Error(err)
	}
	if _, err := resp.Token.Verify(tsa.VerifyOptions{Roots: roots(ch.Root)}); err != nil {
		t.Errorf("verifying openssl's token: %v", err)
	}
	other, _ := testSigner(t, 0)
	if _, err := resp.Token.Verify(tsa.VerifyOptions{Roots: roots(other.Chain()[1])}); err == nil {
		t.Error("openssl's token verified against another root")
	}
}
