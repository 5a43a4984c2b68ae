package tsa_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/tsa"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// tlv returns, in hex, the DER element of tag whose contents are the hex parts.
func tlv(tag string, parts ...string) string {
	c := mustHex(strings.Join(parts, ""))
	if len(c) < 0x80 {
		return tag + hex.EncodeToString([]byte{byte(len(c))}) + hex.EncodeToString(c)
	}
	return tag + "82" + hex.EncodeToString([]byte{byte(len(c) >> 8), byte(len(c))}) + hex.EncodeToString(c)
}

// Parts of requests, in hex.
var (
	sha256Alg   = tlv("30", "0609608648016503040201", "0500")
	reqDigest   = strings.Repeat("aa", 32)
	reqImprint  = tlv("30", sha256Alg, tlv("04", reqDigest))
	reqNonce    = "02020102"
	reqCertTrue = "0101ff"
	sha256Req   = tlv("30", "020101", reqImprint, reqNonce, reqCertTrue)
)

// TestRejections holds malformed and unsupported requests to the failure information
// their rejection carries.
func TestRejections(t *testing.T) {
	imprint := func(alg string, n int) string {
		return tlv("30", alg, tlv("04", strings.Repeat("aa", n)))
	}
	tests := []struct {
		name string
		der  string
		want tsa.FailInfo
	}{
		{"empty", "", tsa.FailBadDataFormat},
		{"not a sequence", "0400", tsa.FailBadDataFormat},
		{"truncated", sha256Req[:60], tsa.FailBadDataFormat},
		{"trailing byte", sha256Req + "00", tsa.FailBadDataFormat},
		{"indefinite length", "3080 020101" + reqImprint + "0000", tsa.FailBadDataFormat},
		{"long-form short length", "3081" + sha256Req[2:], tsa.FailBadDataFormat},
		{"version 2", tlv("30", "020102", reqImprint), tsa.FailBadDataFormat},
		{"version non-minimal", tlv("30", "02020001", reqImprint), tsa.FailBadDataFormat},
		{"no imprint", tlv("30", "020101"), tsa.FailBadDataFormat},
		{"imprint without digest", tlv("30", "020101", tlv("30", sha256Alg)), tsa.FailBadDataFormat},
		{"md5", tlv("30", "020101", imprint(tlv("30", "06082a864886f70d0205", "0500"), 16)), tsa.FailBadAlg},
		{"sha1", tlv("30", "020101", imprint(tlv("30", "06052b0e03021a"), 20)), tsa.FailBadAlg},
		{"sha256 short digest", tlv("30", "020101", imprint(sha256Alg, 28)), tsa.FailBadAlg},
		{"sha256 with sha512's length", tlv("30", "020101", imprint(sha256Alg, 64)), tsa.FailBadAlg},
		{"sha256 odd parameters", tlv("30", "020101", imprint(tlv("30", "0609608648016503040201", "0403010203"), 32)), tsa.FailBadAlg},
		{"certReq FALSE", tlv("30", "020101", reqImprint, reqNonce, "010100"), tsa.FailBadDataFormat},
		{"certReq not DER", tlv("30", "020101", reqImprint, reqNonce, "010101"), tsa.FailBadDataFormat},
		{"nonce non-minimal", tlv("30", "020101", reqImprint, "0203000102"), tsa.FailBadDataFormat},
		{"nonce too long", tlv("30", "020101", reqImprint, tlv("02", "11"+strings.Repeat("00", tsa.MaxNonceSize))), tsa.FailBadDataFormat},
		{"policy not an OID", tlv("30", "020101", reqImprint, "0600"), tsa.FailBadDataFormat},
		{"policy arc not minimal", tlv("30", "020101", reqImprint, "06032a8001"), tsa.FailBadDataFormat},
		{"extensions", tlv("30", "020101", reqImprint, reqNonce, reqCertTrue, "a000"), tsa.FailUnacceptedExtension},
		{"fields out of order", tlv("30", "020101", reqImprint, reqCertTrue, reqNonce), tsa.FailBadDataFormat},
		{"too large", tlv("30", "020101", reqImprint, tlv("04", strings.Repeat("00", tsa.MaxRequestSize))), tsa.FailBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der := mustHex(tt.der)
			_, err := tsa.ParseRequest(der)
			var re *tsa.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("ParseRequest(%x) = %v, want a rejection %v", der, err, tt.want)
			}
			if re.Fail != tt.want {
				t.Errorf("ParseRequest(%x): %v, want failure %v", der, err, tt.want)
			}
			// The rejection is a TimeStampResp that names the same failure.
			resp, err := tsa.ParseResponse(tsa.Reject(re.Fail, re.Msg))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tsa.StatusRejection || len(resp.FailInfo) != 1 || resp.FailInfo[0] != tt.want || len(resp.StatusText) != 1 {
				t.Errorf("rejection reads as %+v", resp)
			}
		})
	}
	if _, err := tsa.ParseRequest(mustHex(sha256Req)); err != nil {
		t.Errorf("the valid request of the table is refused: %v", err)
	}
}

// TestRejectEncoding holds the failure information's bit strings to DER's named bit lists.
func TestRejectEncoding(t *testing.T) {
	tests := []struct {
		fail tsa.FailInfo
		bits string
	}{
		{tsa.FailBadAlg, "03020780"},
		{tsa.FailBadRequest, "03020520"},
		{tsa.FailBadDataFormat, "03020204"},
		{tsa.FailUnacceptedPolicy, "0303000001"},
		{tsa.FailUnacceptedExtension, "030407000080"},
		{tsa.FailSystemFailure, "03050600000040"},
	}
	for _, tt := range tests {
		got := hex.EncodeToString(tsa.Reject(tt.fail, ""))
		want := "30" + hex.EncodeToString([]byte{byte(5 + len(tt.bits)/2)}) + "30" + hex.EncodeToString([]byte{byte(3 + len(tt.bits)/2)}) + "020102" + tt.bits
		if got != want {
			t.Errorf("Reject(%v) = %s, want %s", tt.fail, got, want)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add(mustHex(sha256Req))
	for _, name := range []string{"sha256.tsq", "sha384.tsq", "sha512.tsq"} { // openssl's
		der, err := os.ReadFile(filepath.Join("testdata", "openssl", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	d := sha256.Sum256(nil)
	for _, r := range []tsa.Request{
		{Hash: crypto.SHA256, HashedMessage: d[:]},
		{Hash: crypto.SHA384, HashedMessage: make([]byte, 48), Nonce: big.NewInt(-1), CertReq: true},
		{Hash: crypto.SHA512, HashedMessage: make([]byte, 64), Nonce: new(big.Int).Lsh(big.NewInt(1), 300)},
	} {
		der, err := r.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	f.Add(mustHex(tlv("30", "020101", reqImprint, reqNonce, reqCertTrue, "a000")))
	f.Fuzz(func(t *testing.T, der []byte) {
		r, err := tsa.ParseRequest(der)
		if err != nil {
			var re *tsa.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("ParseRequest error %v is not a RequestError", err)
			}
			return
		}
		// Strict DER: what is accepted is the one encoding of what was read.
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed request: %v", err)
		}
		if !bytes.Equal(again, der) {
			t.Fatalf("accepted %x, which encodes as %x", der, again)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	s, ch := testSigner(f, time.Second)
	d := sha256.Sum256(nil)
	for _, certReq := range []bool{false, true} {
		resp, err := s.Respond(&tsa.Request{Hash: crypto.SHA256, HashedMessage: d[:], Nonce: big.NewInt(5), CertReq: certReq}, big.NewInt(9), time.Now())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(resp)
	}
	f.Add(tsa.Reject(tsa.FailBadAlg, "no"))
	f.Fuzz(func(t *testing.T, der []byte) {
		resp, err := tsa.ParseResponse(der)
		if err != nil || resp.Token == nil {
			return
		}
		// Whatever parses either verifies as the signer's token for the same TSTInfo, or not at all.
		if _, err := resp.Token.Verify(tsa.VerifyOptions{Roots: roots(ch.Root), Certificates: s.Chain()[:1]}); err == nil {
			if !bytes.Equal(resp.Token.Info.HashedMessage, d[:]) {
				t.Fatalf("a token for another imprint verifies: %x", der)
			}
		}
	})
}

func FuzzParseToken(f *testing.F) {
	s, ch := testSigner(f, time.Second)
	d := sha512.Sum512(nil)
	for _, certReq := range []bool{false, true} {
		tok, err := s.Token(&tsa.Request{Hash: crypto.SHA512, HashedMessage: d[:], Nonce: big.NewInt(-5), CertReq: certReq}, big.NewInt(1<<40), time.Now())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
	}
	if resp, err := os.ReadFile(filepath.Join("testdata", "openssl", "sha256.tsr")); err == nil {
		if r, err := tsa.ParseResponse(resp); err == nil && r.Token != nil {
			f.Add(r.Token.Raw) // openssl's
		}
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		tok, err := tsa.ParseToken(der)
		if err != nil {
			return
		}
		if tok.Info.SerialNumber == nil || tok.Info.GenTime.Location() != time.UTC || len(tok.Info.HashedMessage) != tok.Info.Hash.Size() {
			t.Fatalf("a parsed token with %+v", tok.Info)
		}
		if _, err := tok.Verify(tsa.VerifyOptions{Roots: roots(ch.Root), Certificates: s.Chain()[:1]}); err == nil &&
			!bytes.Equal(tok.Info.HashedMessage, d[:]) {
			t.Fatalf("a token for another imprint verifies: %x", der)
		}
	})
}
