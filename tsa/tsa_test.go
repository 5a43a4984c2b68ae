package tsa_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/notary-dev/notary/tsa"
)

// testSigner returns a signer on a new chain, and the chain.
func testSigner(t testing.TB, accuracy time.Duration) (*tsa.Signer, *tsa.Chain) {
	t.Helper()
	ch, err := tsa.GenerateChain("test", chainTime)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tsa.NewSigner(tsa.SignerConfig{Key: ch.LeafKey, Chain: []*x509.Certificate{ch.Leaf, ch.Root}, Accuracy: accuracy})
	if err != nil {
		t.Fatal(err)
	}
	return s, ch
}

// chainTime is when the tests' chains are made: a fixed time before the fixed genTimes of
// their tokens (a chain made now would not yet be valid at them), so that each token
// verifies, or fails, for the reason its test is about.
var chainTime = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)

func roots(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func TestRoundTrip(t *testing.T) {
	s, ch := testSigner(t, 1500*time.Millisecond)
	data := []byte("the document")
	d256 := sha256.Sum256(data)
	d384 := sha512.Sum384(data)
	d512 := sha512.Sum512(data)
	genTime := time.Date(2026, 12, 7, 1, 2, 3, 450_000_000, time.UTC)
	tests := []struct {
		name string
		req  tsa.Request
	}{
		{"sha256", tsa.Request{Hash: crypto.SHA256, HashedMessage: d256[:]}},
		{"sha384 nonce", tsa.Request{Hash: crypto.SHA384, HashedMessage: d384[:], Nonce: big.NewInt(-77)}},
		{"sha512 certReq", tsa.Request{Hash: crypto.SHA512, HashedMessage: d512[:], CertReq: true, Nonce: new(big.Int).Lsh(big.NewInt(1), 200)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := tt.req.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			req, err := tsa.ParseRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			serial := big.NewInt(123456)
			respDER, err := s.Respond(req, serial, genTime)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := tsa.ParseResponse(respDER)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tsa.StatusGranted || resp.Token == nil {
				t.Fatalf("status %d, token %v", resp.Status, resp.Token)
			}
			info := resp.Token.Info
			if info.Hash != tt.req.Hash || !bytes.Equal(info.HashedMessage, tt.req.HashedMessage) ||
				info.SerialNumber.Cmp(serial) != 0 || !info.GenTime.Equal(genTime) || info.Accuracy != 1500*time.Millisecond ||
				info.Ordering || (tt.req.Nonce == nil) != (info.Nonce == nil) || (info.Nonce != nil && info.Nonce.Cmp(tt.req.Nonce) != 0) ||
				info.Policy.String() != tsa.DefaultPolicy {
				t.Errorf("info %+v for request %+v", info, tt.req)
			}
			if got := len(resp.Token.Certificates); got != map[bool]int{false: 0, true: 1}[tt.req.CertReq] {
				t.Errorf("token carries %d certificates with certReq %v", got, tt.req.CertReq)
			}
			if err := info.CheckData(bytes.NewReader(data)); err != nil {
				t.Error(err)
			}
			if err := info.CheckData(bytes.NewReader([]byte("another"))); !errors.Is(err, tsa.ErrImprintMismatch) {
				t.Errorf("CheckData of other data: %v", err)
			}
			chain, err := resp.Token.Verify(tsa.VerifyOptions{Roots: roots(ch.Root), Certificates: []*x509.Certificate{ch.Leaf}})
			if err != nil {
				t.Fatal(err)
			}
			if !chain[0].Equal(ch.Leaf) {
				t.Error("chain does not start at the TSA's certificate")
			}
			other, _ := testSigner(t, 0)
			if _, err := resp.Token.Verify(tsa.VerifyOptions{Roots: roots(other.Chain()[1]), Certificates: []*x509.Certificate{ch.Leaf}}); err == nil {
				t.Error("verified against another root")
			}
		})
	}
}

// BenchmarkRespond is the cost of one token alone: TSTInfo, signed attributes, an ECDSA
// P-256 signature.
func BenchmarkRespond(b *testing.B) {
	s, _ := testSigner(b, time.Second)
	d := sha256.Sum256([]byte("bench"))
	r := &tsa.Request{Hash: crypto.SHA256, HashedMessage: d[:], Nonce: big.NewInt(7), CertReq: true}
	t := time.Now()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Respond(r, big.NewInt(int64(i)), t); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifyRefuses alters a token in the ways a forger would and checks that Verify
// refuses each.
func TestVerifyRefuses(t *testing.T) {
	s, ch := testSigner(t, 0)
	d := sha256.Sum256([]byte("original"))
	genTime := time.Now().UTC().Truncate(time.Second)
	token, err := s.Token(&tsa.Request{Hash: crypto.SHA256, HashedMessage: d[:], CertReq: true}, big.NewInt(1), genTime)
	if err != nil {
		t.Fatal(err)
	}
	opts := tsa.VerifyOptions{Roots: roots(ch.Root)}
	tok, err := tsa.ParseToken(token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Verify(opts); err != nil {
		t.Fatalf("the unaltered token: %v", err)
	}

	// The same TSA name and serial number on another key (a forger's copy of the chain).
	forger, err := tsa.GenerateChain("test", chainTime)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := tsa.NewSigner(tsa.SignerConfig{Key: forger.LeafKey, Chain: []*x509.Certificate{forger.Leaf}})
	if err != nil {
		t.Fatal(err)
	}
	forged, err := fs.Token(&tsa.Request{Hash: crypto.SHA256, HashedMessage: d[:], CertReq: true}, big.NewInt(1), genTime)
	if err != nil {
		t.Fatal(err)
	}

	genTimeDER := []byte(genTime.Format("20060102150405Z"))
	later := []byte(genTime.Add(time.Second).Format("20060102150405Z"))
	tests := []struct {
		name  string
		token []byte
	}{
		{"re-signed by another key", forged},
		{"genTime changed", bytes.Replace(bytes.Clone(token), genTimeDER, later, 1)},
		{"imprint changed", bytes.Replace(bytes.Clone(token), d[:], make([]byte, 32), 1)},
		{"signature flipped", func() []byte { b := bytes.Clone(token); b[len(b)-3] ^= 1; return b }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if bytes.Equal(tt.token, token) {
				t.Fatal("the alteration changed nothing")
			}
			tok, err := tsa.ParseToken(tt.token)
			if err != nil {
				return // refused as malformed: fine
			}
			if _, err := tok.Verify(opts); err == nil {
				t.Error("an altered token verifies")
			}
		})
	}
	// Without the TSA's certificate anywhere, there is nothing to verify with.
	bare, _ := s.Token(&tsa.Request{Hash: crypto.SHA256, HashedMessage: d[:]}, big.NewInt(2), genTime)
	tok, _ = tsa.ParseToken(bare)
	if _, err := tok.Verify(opts); err == nil {
		t.Error("a token without its certificate verifies without it")
	}
	if _, err := tok.Verify(tsa.VerifyOptions{Roots: roots(ch.Root), Certificates: []*x509.Certificate{ch.Leaf}}); err != nil {
		t.Errorf("with the certificate given: %v", err)
	}
}
