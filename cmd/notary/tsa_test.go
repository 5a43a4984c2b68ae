package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/tsa"
)

// TestTSASigner holds the TSA settings of serve: the chain made on first run and kept,
// the operator's certificate and key, and what is refused.
func TestTSASigner(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	data := t.TempDir()
	var f tsaFlags
	s1, err := f.signer(data, "notary.test/log", log)
	if err != nil {
		t.Fatal(err)
	}
	if got := s1.Policy().String(); got != tsa.DefaultPolicy {
		t.Errorf("policy %s, want the default %s", got, tsa.DefaultPolicy)
	}
	s2, err := f.signer(data, "notary.test/log", log)
	if err != nil {
		t.Fatal(err)
	}
	if !s1.Chain()[0].Equal(s2.Chain()[0]) {
		t.Error("a second start made a new TSA certificate instead of keeping the first")
	}
	if cn := s1.Chain()[0].Subject.CommonName; cn != "notary.test/log TSA" {
		t.Errorf("common name %q", cn)
	}

	// The operator's own certificate, with a policy of its own.
	ch, err := tsa.GenerateChain("operator", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key, _ := tsa.EncodeKey(ch.LeafKey)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, tsa.EncodeCertificates(ch.Leaf, ch.Root), 0o644)
	os.WriteFile(keyFile, key, 0o600)
	own := tsaFlags{cert: certFile, key: keyFile, policy: "1.3.6.1.4.1.99999.7", accuracy: "250ms"}
	s3, err := own.signer(t.TempDir(), "x", log)
	if err != nil {
		t.Fatal(err)
	}
	if !s3.Chain()[0].Equal(ch.Leaf) || s3.Policy().String() != "1.3.6.1.4.1.99999.7" {
		t.Errorf("the operator's certificate or policy is not the signer's")
	}

	// A certificate whose extended key usage is not critical, as crypto/x509 writes it.
	badKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "lax TSA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, badKey.Public(), badKey)
	if err != nil {
		t.Fatal(err)
	}
	lax, _ := x509.ParseCertificate(der)
	laxKey, _ := tsa.EncodeKey(badKey)
	os.WriteFile(filepath.Join(dir, "lax.pem"), tsa.EncodeCertificates(lax), 0o644)
	os.WriteFile(filepath.Join(dir, "lax.key"), laxKey, 0o600)

	for _, tt := range []struct {
		name string
		f    tsaFlags
		want string
	}{
		{"cert without key", tsaFlags{cert: certFile}, "go together"},
		{"bad policy", tsaFlags{policy: "not.an.oid"}, "--tsa-policy"},
		{"negative accuracy", tsaFlags{accuracy: "-1s"}, "--tsa-accuracy"},
		{"key of another certificate", tsaFlags{cert: certFile, key: filepath.Join(dir, "lax.key")}, "not the certificate's"},
		{"non-critical extended key usage", tsaFlags{cert: filepath.Join(dir, "lax.pem"), key: filepath.Join(dir, "lax.key")}, "not critical"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.f.signer(t.TempDir(), "x", log)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("signer: %v, want an error about %q", err, tt.want)
			}
		})
	}

	// Half a chain in the data directory is refused rather than replaced.
	half := t.TempDir()
	if _, err := f.signer(half, "x", log); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(half, tsaKeyFile))
	if _, err := f.signer(half, "x", log); err == nil || !strings.Contains(err.Error(), "without the other") {
		t.Errorf("a chain without its key: %v", err)
	}
}
