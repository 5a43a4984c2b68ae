package tsa

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Chain is a TSA's certificate and key, with the root that issued the certificate.
type Chain struct {
	Root    *x509.Certificate
	RootKey crypto.Signer
	Leaf    *x509.Certificate
	LeafKey crypto.Signer
}

// GenerateChain makes a self-signed root certificate authority and a TSA certificate it
// issues, each with a new ECDSA P-256 key. name goes into their common names. The root is
// valid for 20 years and the TSA's certificate for 10, from now; the TSA's has one
// extended key usage, timeStamping, critical, as RFC 3161 requires.
func GenerateChain(name string, now time.Time) (*Chain, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Second)
	root := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: name + " TSA root"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, rootKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("tsa: creating the root certificate: %w", err)
	}
	if root, err = x509.ParseCertificate(rootDER); err != nil {
		return nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: name + " TSA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		// crypto/x509 marks the extended key usage non-critical; RFC 3161 wants it
		// critical, so it is written here instead.
		ExtraExtensions: []pkix.Extension{timeStampingEKU()},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, root, leafKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("tsa: creating the TSA certificate: %w", err)
	}
	if leaf, err = x509.ParseCertificate(leafDER); err != nil {
		return nil, err
	}
	return &Chain{Root: root, RootKey: rootKey, Leaf: leaf, LeafKey: leafKey}, nil
}

// timeStampingEKU is the critical extended key usage extension of timeStamping alone.
func timeStampingEKU() pkix.Extension {
	// SEQUENCE { OID 1.3.6.1.5.5.7.3.8 }
	value := []byte{0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08}
	return pkix.Extension{Id: oidExtKeyUsage, Critical: true, Value: value}
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

// EncodeCertificates returns certs as PEM CERTIFICATE blocks.
func EncodeCertificates(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// ParseCertificates parses PEM CERTIFICATE blocks; there must be at least one, and
// nothing but them.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("tsa: a PEM block of type %q where certificates were expected", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tsa: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("tsa: no PEM certificate")
	}
	return certs, nil
}

// EncodeKey returns key as a PEM PRIVATE KEY block (PKCS #8).
func EncodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("tsa: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKey parses a PEM private key: PKCS #8 ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY")
// or PKCS #1 ("RSA PRIVATE KEY").
func ParseKey(data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("tsa: no PEM private key")
	}
	var key any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("tsa: a PEM block of type %q where a private key was expected", b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("tsa: %w", err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("tsa: a %T key cannot sign", key)
	}
	return s, nil
}
