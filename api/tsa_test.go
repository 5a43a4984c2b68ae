package api_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/tsa"
)

// tsaStack is a stack whose API signs time-stamp tokens with a new chain.
type tsaStack struct {
	*stack
	url   string
	chain *tsa.Chain
}

func newTSAStack(t testing.TB) *tsaStack {
	t.Helper()
	s := newStack(t, stackConfig{})
	ch, err := tsa.GenerateChain("notary.test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tsa.NewSigner(tsa.SignerConfig{Key: ch.LeafKey, Chain: []*x509.Certificate{ch.Leaf, ch.Root}, Accuracy: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return &tsaStack{stack: s, chain: ch, url: serve(t, api.New(api.Config{Service: s.svc, TSA: signer}))}
}

// runOpenSSL runs openssl in dir and returns its standard output.
func runOpenSSL(t *testing.T, dir string, args ...string) []byte {
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

// TestTSAWithOpenSSL has openssl ask the served TSA for tokens and verify them against
// the served chain; each token's imprint is an entry of the log, with the token's time,
// and its serial number names the entry.
func TestTSAWithOpenSSL(t *testing.T) {
	s := newTSAStack(t)
	dir := t.TempDir()
	r := do(t, http.DefaultClient, http.MethodGet, s.url+"/tsa/certchain", "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/pem-certificate-chain" {
		t.Fatalf("GET /tsa/certchain: %d %q", r.status, r.header.Get("Content-Type"))
	}
	certs, err := tsa.ParseCertificates(r.body)
	if err != nil || len(certs) != 2 || !certs[0].Equal(s.chain.Leaf) || !certs[1].Equal(s.chain.Root) {
		t.Fatalf("the served chain: %v, %d certificates", err, len(certs))
	}
	if err := os.WriteFile(filepath.Join(dir, "chain.pem"), r.body, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, hash := range []string{"sha256", "sha384", "sha512"} {
		for _, extras := range [][]string{{"-no_nonce"}, {"-cert"}} {
			name := hash + strings.Join(extras, "")
			t.Run(name, func(t *testing.T) {
				// A document of its own, so that the request logs a new entry.
				doc := []byte("a contract, " + name + "\n")
				if err := os.WriteFile(filepath.Join(dir, "doc"), doc, 0o600); err != nil {
					t.Fatal(err)
				}
				runOpenSSL(t, dir, append([]string{"ts", "-query", "-data", "doc", "-" + hash, "-out", "req.tsq"}, extras...)...)
				query, err := os.ReadFile(filepath.Join(dir, "req.tsq"))
				if err != nil {
					t.Fatal(err)
				}
				before := time.Now().Truncate(time.Millisecond)
				r := do(t, http.DefaultClient, http.MethodPost, s.url+"/tsa", "application/timestamp-query", query)
				after := time.Now()
				if r.status != 200 || r.header.Get("Content-Type") != "application/timestamp-reply" {
					t.Fatalf("POST /tsa: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
				}
				if err := os.WriteFile(filepath.Join(dir, "resp.tsr"), r.body, 0o600); err != nil {
					t.Fatal(err)
				}
				verify := []string{"ts", "-verify", "-in", "resp.tsr", "-CAfile", "chain.pem"}
				if extras[0] != "-cert" {
					// The token does not carry the TSA's certificate: openssl takes it from the chain.
					verify = append(verify, "-untrusted", "chain.pem")
				}
				out := runOpenSSL(t, dir, append(verify, "-data", "doc")...)
				if !bytes.Contains(out, []byte("Verification: OK")) {
					t.Errorf("openssl ts -verify: %s", out)
				}
				runOpenSSL(t, dir, append(verify, "-queryfile", "req.tsq")...)

				resp, err := tsa.ParseResponse(r.body)
				if err != nil {
					t.Fatal(err)
				}
				info := resp.Token.Info
				index, ok := tsa.SerialIndex(info.SerialNumber)
				if !ok {
					t.Fatalf("serial number %v names no index", info.SerialNumber)
				}
				ts, err := s.svc.Lookup(t.Context(), notary.Digest(tsa.EntryDigest(info.Hash, info.HashedMessage)))
				if err != nil {
					t.Fatalf("the token's imprint is not in the log: %v", err)
				}
				if ts.Entry.Index != index || !ts.Entry.Time.Equal(info.GenTime) {
					t.Errorf("entry %d at %v; the token names %d at %v", ts.Entry.Index, ts.Entry.Time, index, info.GenTime)
				}
				// A first-time imprint is logged by this request: its time lies within it.
				if info.GenTime.Before(before) || info.GenTime.After(after) {
					t.Errorf("genTime %v outside the request's %v – %v", info.GenTime, before, after)
				}
				if hash == "sha256" && ts.Entry.Digest != notary.Digest(sha256.Sum256(doc)) {
					t.Error("a SHA-256 imprint is not logged as the document's digest")
				}
			})
		}
	}
}

// TestTSASameImprint checks that asking twice for one imprint gives one entry, its time,
// and two serial numbers.
func TestTSASameImprint(t *testing.T) {
	s := newTSAStack(t)
	d := sha256.Sum256([]byte("twice"))
	var serials []*big.Int
	var infos []tsa.Info
	for range 2 {
		q, err := (&tsa.Request{Hash: crypto.SHA256, HashedMessage: d[:], Nonce: big.NewInt(time.Now().UnixNano())}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		r := do(t, http.DefaultClient, http.MethodPost, s.url+"/tsa", "application/timestamp-query", q)
		resp, err := tsa.ParseResponse(r.body)
		if err != nil || resp.Token == nil {
			t.Fatalf("POST /tsa: %d %v", r.status, err)
		}
		serials = append(serials, resp.Token.Info.SerialNumber)
		infos = append(infos, resp.Token.Info)
	}
	i0, _ := tsa.SerialIndex(serials[0])
	i1, _ := tsa.SerialIndex(serials[1])
	if i0 != i1 || !infos[0].GenTime.Equal(infos[1].GenTime) {
		t.Errorf("one imprint, two entries: %d at %v and %d at %v", i0, infos[0].GenTime, i1, infos[1].GenTime)
	}
	if serials[0].Cmp(serials[1]) == 0 {
		t.Error("two tokens share a serial number")
	}
}

// TestTSARejects sends what the TSA must refuse: each answer is a TimeStampResp
// rejection with the failure RFC 3161 names, never a 500.
func TestTSARejects(t *testing.T) {
	s := newTSAStack(t)
	d := sha256.Sum256([]byte("x"))
	good, _ := (&tsa.Request{Hash: crypto.SHA256, HashedMessage: d[:]}).Marshal()
	otherPolicy, _ := x509.ParseOID("1.2.3.4")
	withPolicy, _ := (&tsa.Request{Hash: crypto.SHA256, HashedMessage: d[:], Policy: otherPolicy}).Marshal()
	md5 := mustHexAPI("301e 020101 3019 300c 06082a864886f70d0205 0500 0409 aaaaaaaaaaaaaaaaaa")
	tests := []struct {
		name, method, contentType string
		body                      []byte
		status                    int
		fail                      tsa.FailInfo
	}{
		{"json", http.MethodPost, "application/json", good, 415, tsa.FailBadRequest},
		{"no content type", http.MethodPost, "", good, 415, tsa.FailBadRequest},
		{"oversized", http.MethodPost, "application/timestamp-query", bytes.Repeat([]byte{0x30}, tsa.MaxRequestSize+1), 413, tsa.FailBadRequest},
		{"not DER", http.MethodPost, "application/timestamp-query", []byte("hello"), 200, tsa.FailBadDataFormat},
		{"empty", http.MethodPost, "application/timestamp-query", nil, 200, tsa.FailBadDataFormat},
		{"trailing garbage", http.MethodPost, "application/timestamp-query", append(bytes.Clone(good), 0), 200, tsa.FailBadDataFormat},
		{"md5", http.MethodPost, "application/timestamp-query", md5, 200, tsa.FailBadAlg},
		{"another policy", http.MethodPost, "application/timestamp-query", withPolicy, 200, tsa.FailUnacceptedPolicy},
		{"GET", http.MethodGet, "", nil, 405, tsa.FailBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, http.DefaultClient, tt.method, s.url+"/tsa", tt.contentType, tt.body)
			if r.status != tt.status || r.header.Get("Content-Type") != "application/timestamp-reply" {
				t.Errorf("status %d %q, want %d application/timestamp-reply", r.status, r.header.Get("Content-Type"), tt.status)
			}
			resp, err := tsa.ParseResponse(r.body)
			if err != nil {
				t.Fatalf("the answer is not a TimeStampResp: %v %q", err, r.body)
			}
			if resp.Status != tsa.StatusRejection || len(resp.FailInfo) != 1 || resp.FailInfo[0] != tt.fail || len(resp.StatusText) != 1 {
				t.Errorf("answer %+v, want a rejection %v with a reason", resp, tt.fail)
			}
		})
	}
	// A body of unknown length (chunked) is cut at the limit too.
	req, _ := http.NewRequest(http.MethodPost, s.url+"/tsa", io.MultiReader(bytes.NewReader(make([]byte, tsa.MaxRequestSize)), strings.NewReader("x")))
	req.Header.Set("Content-Type", "application/timestamp-query")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if r, err := tsa.ParseResponse(body); resp.StatusCode != 413 || err != nil || r.Status != tsa.StatusRejection {
		t.Errorf("a chunked body over the limit: %d, %v", resp.StatusCode, err)
	}
	if n := s.svc.Size(); n != 0 {
		t.Errorf("the refused requests logged %d entries", n)
	}
}

func mustHexAPI(s string) []byte {
	var out []byte
	s = strings.Join(strings.Fields(s), "")
	for i := 0; i+1 < len(s); i += 2 {
		var b byte
		for _, c := range s[i : i+2] {
			b <<= 4
			switch {
			case c >= '0' && c <= '9':
				b |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				b |= byte(c - 'a' + 10)
			}
		}
		out = append(out, b)
	}
	return out
}

// TestTSAForwardRefusals checks that a follower that cannot reach the writer refuses a
// time-stamp request with a TimeStampResp, as the TSA answers everything.
func TestTSAForwardRefusals(t *testing.T) {
	d := sha256.Sum256([]byte("forwarded"))
	q, _ := (&tsa.Request{Hash: crypto.SHA256, HashedMessage: d[:]}).Marshal()
	for _, tt := range []struct {
		name   string
		writer func(context.Context) (string, error)
	}{
		{"no writer", func(context.Context) (string, error) { return "", errors.New("no writer elected") }},
		{"writer unreachable", func(context.Context) (string, error) { return "http://127.0.0.1:1", nil }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url := serve(t, api.Forward(http.NotFoundHandler(), api.ForwardConfig{Writer: tt.writer, Key: []byte("k")}))
			r := do(t, http.DefaultClient, http.MethodPost, url+"/tsa", "application/timestamp-query", q)
			resp, err := tsa.ParseResponse(r.body)
			if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || err != nil ||
				resp.Status != tsa.StatusRejection || len(resp.FailInfo) != 1 || resp.FailInfo[0] != tsa.FailSystemFailure {
				t.Errorf("status %d, Retry-After %q, answer %+v, %v", r.status, r.header.Get("Retry-After"), resp, err)
			}
		})
	}
}
