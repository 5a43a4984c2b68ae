package api_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notary-dev/notary/tsa"
)

// TestTSAWithJarsigner has Java's jarsigner time-stamp a signed jar at the served TSA,
// and jarsigner -verify read the time-stamp against a truststore holding the TSA's root.
func TestTSAWithJarsigner(t *testing.T) {
	tools := map[string]string{}
	for _, name := range []string{"jar", "keytool", "jarsigner"} {
		path, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("%s is missing: run scripts/test-deps.sh (make test does)", name)
		}
		tools[name] = path
	}
	s := newTSAStack(t)
	dir := t.TempDir()
	run := func(tool string, args ...string) string {
		t.Helper()
		cmd := exec.Command(tools[tool], args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	writeTestFile(t, filepath.Join(dir, "hello.txt"), []byte("hello\n"))
	writeTestFile(t, filepath.Join(dir, "tsa-root.pem"), tsa.EncodeCertificates(s.chain.Root))
	run("jar", "cf", "app.jar", "hello.txt")
	run("keytool", "-genkeypair", "-alias", "signer", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=test jar signer",
		"-validity", "2", "-keystore", "signer.p12", "-storetype", "PKCS12", "-storepass", "changeit")
	run("keytool", "-exportcert", "-rfc", "-alias", "signer", "-keystore", "signer.p12", "-storepass", "changeit", "-file", "signer.pem")
	// Two truststores: the jar's signer alone, and the signer and the TSA's root.
	for _, store := range []string{"signer-only.p12", "trust.p12"} {
		run("keytool", "-importcert", "-noprompt", "-alias", "signer", "-file", "signer.pem",
			"-keystore", store, "-storetype", "PKCS12", "-storepass", "changeit")
	}
	run("keytool", "-importcert", "-noprompt", "-alias", "notary-tsa", "-file", "tsa-root.pem",
		"-keystore", "trust.p12", "-storetype", "PKCS12", "-storepass", "changeit")
	run("jarsigner", "-keystore", "signer.p12", "-storepass", "changeit", "-tsa", s.url+"/tsa", "app.jar", "signer")
	if n := s.svc.Size(); n != 1 {
		t.Errorf("the time-stamp logged %d entries, want 1", n)
	}

	// -strict turns every warning into a failure, an untrusted time-stamp's included.
	out := run("jarsigner", "-verify", "-strict", "-verbose", "-certs", "-keystore", "trust.p12", "-storepass", "changeit", "app.jar")
	if !strings.Contains(out, `Timestamped by "CN=notary.test TSA"`) || strings.Contains(out, "Invalid") {
		t.Errorf("jarsigner -verify:\n%s", out)
	}
	cmd := exec.Command(tools["jarsigner"], "-verify", "-strict", "-verbose", "-certs", "-keystore", "signer-only.p12", "-storepass", "changeit", "app.jar")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "Invalid TSA certificate chain") {
		t.Errorf("jarsigner -verify -strict accepts the time-stamp without the TSA's root: %v\n%s", err, out)
	}
}
