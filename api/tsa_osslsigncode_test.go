package api_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/tsa"
)

// TestTSAWithOsslsigncode signs a small Windows program with a throwaway code-signing
// key, has Debian's osslsigncode time-stamp the signature at the served TSA, and has it
// verify the result against the TSA's chain.
func TestTSAWithOsslsigncode(t *testing.T) {
	tool, err := exec.LookPath("osslsigncode")
	if err != nil {
		t.Fatal("osslsigncode is missing: run scripts/test-deps.sh (make test does)")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("the go command is not on PATH")
	}
	s := newTSAStack(t)
	dir := t.TempDir()

	// A tiny PE: a Go program built for Windows.
	src := filepath.Join(dir, "hello")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.26\n"))
	writeTestFile(t, filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() { println(\"hello\") }\n"))
	build := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "hello.exe"), ".")
	build.Dir = src
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building a Windows program: %v\n%s", err, out)
	}

	// A throwaway code-signing chain.
	caKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test code-signing CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "test code signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "signer.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}))
	writeTestFile(t, filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	writeTestFile(t, filepath.Join(dir, "signer.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	writeTestFile(t, filepath.Join(dir, "tsa.pem"), tsa.EncodeCertificates(s.chain.Root))

	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(tool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("osslsigncode %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("sign", "-certs", "signer.pem", "-key", "signer.key", "-h", "sha256", "-ts", s.url+"/tsa", "-in", "hello.exe", "-out", "signed.exe")
	if n := s.svc.Size(); n != 1 {
		t.Errorf("the time-stamp logged %d entries, want 1", n)
	}
	out := run("verify", "-in", "signed.exe", "-CAfile", "ca.pem", "-TSA-CAfile", "tsa.pem")
	for _, want := range []string{"Timestamp Server Signature verification: ok", "Succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("osslsigncode verify lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "notary.test TSA") {
		t.Errorf("osslsigncode verify does not name the TSA:\n%s", out)
	}
	// Against another TSA root, the time-stamp does not verify (osslsigncode still accepts
	// the signature itself, and says so).
	other, err := tsa.GenerateChain("other", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "other.pem"), tsa.EncodeCertificates(other.Root))
	cmd := exec.Command(tool, "verify", "-in", "signed.exe", "-CAfile", "ca.pem", "-TSA-CAfile", "other.pem")
	cmd.Dir = dir
	if out, _ := cmd.CombinedOutput(); !bytes.Contains(out, []byte("Timestamp Server Signature verification: failed")) {
		t.Errorf("osslsigncode verify accepts the time-stamp against another TSA root:\n%s", out)
	}
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
