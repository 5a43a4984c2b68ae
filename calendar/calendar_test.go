package calendar_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/calendar"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/ots"
	"github.com/notary-dev/notary/ots/reftest"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
)

// patience bounds the waits of the tests: a guard against a hang, not a measure of speed.
const patience = 2 * time.Minute

var updateOTS = flag.Bool("update", false, "rewrite the golden .ots files in testdata")

// fakeAnchors is an AnchorSource that reports one anchor for every entry it covers.
type fakeAnchors struct {
	mu sync.Mutex
	a  *service.Anchor
}

func (f *fakeAnchors) set(a *service.Anchor) { f.mu.Lock(); f.a = a; f.mu.Unlock() }

func (f *fakeAnchors) Covering(_ context.Context, index int64) (*service.Anchor, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.a == nil || index >= f.a.Size {
		return nil, nil
	}
	a := *f.a
	return &a, nil
}

// calendarService runs a notary service on a fresh database, with fake anchors, behind the API.
type calendarService struct {
	svc     *service.Service
	anchors *fakeAnchors
	url     string // of the HTTP server
}

func newCalendarService(t *testing.T, serviceURL string) *calendarService {
	t.Helper()
	skey, vkey, err := note.GenerateKey(nil, "notary.test/log")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(t.TempDir(), "notary.db"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(context.Background(), service.Config{
		Signer: signer, Verifier: vkey, Store: db, ServiceURL: serviceURL, CheckpointInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	anchors := &fakeAnchors{}
	svc.SetAnchors(anchors)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	srv := httptest.NewServer(api.New(api.Config{Service: svc}))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		db.Close()
	})
	return &calendarService{svc: svc, anchors: anchors, url: srv.URL}
}

// checkpointed submits d and waits until it is in a checkpoint.
func (s *calendarService) checkpointed(t *testing.T, d notary.Digest) *service.Timestamp {
	t.Helper()
	ctx := context.Background()
	if _, err := s.svc.Submit(ctx, d); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ts, err := s.svc.Lookup(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if ts.Proof != nil {
			return ts
		}
	}
	t.Fatalf("the digest is not in a checkpoint after %v", patience)
	return nil
}

// finalAnchor returns a final anchor of the latest checkpoint: a transaction committing
// its root, alone in a regtest block whose header meets its target.
func (s *calendarService) finalAnchor(t *testing.T) *service.Anchor {
	t.Helper()
	cp := s.svc.LatestCheckpoint()
	tx := binary.LittleEndian.AppendUint32(nil, 2)
	tx = append(tx, 1)                              // one input
	tx = append(tx, bytes.Repeat([]byte{7}, 36)...) // its outpoint
	tx = append(tx, 0)                              // empty script
	tx = binary.LittleEndian.AppendUint32(tx, 0xfffffffd)
	tx = append(tx, 1) // one output
	tx = binary.LittleEndian.AppendUint64(tx, 0)
	tx = append(tx, 34, 0x6a, 32) // OP_RETURN, push 32
	tx = append(tx, cp.Root[:]...)
	tx = binary.LittleEndian.AppendUint32(tx, 0) // lock time
	txid := merkle.DoubleSHA256(tx)
	var h notary.Header
	binary.LittleEndian.PutUint32(h[0:], 0x20000000)
	copy(h[36:68], txid[:])
	binary.LittleEndian.PutUint32(h[68:], uint32(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Unix()))
	binary.LittleEndian.PutUint32(h[72:], 0x207fffff)
	for nonce := uint32(0); h.CheckProofOfWork("regtest") != nil; nonce++ {
		binary.LittleEndian.PutUint32(h[76:], nonce)
	}
	return &service.Anchor{
		ID: 1, Status: service.AnchorFinal, Size: cp.Size, Root: cp.Root, TxID: notary.ReverseHex(txid),
		Height: 144, Confirmations: 6,
		Bitcoin: &service.BitcoinAttestation{Network: "regtest", Tx: tx, Header: h, Height: 144},
	}
}

type calAnswer struct {
	status int
	header http.Header
	body   []byte
}

func calDo(t *testing.T, method, url string, body io.Reader, header ...string) calAnswer {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return calAnswer{resp.StatusCode, resp.Header, b}
}

func (a calAnswer) want(t *testing.T, status int, contentType, body string) {
	t.Helper()
	if a.status != status || a.header.Get("Content-Type") != contentType || (body != "" && string(a.body) != body) {
		t.Fatalf("calAnswer %d %q %q, want %d %q %q", a.status, a.header.Get("Content-Type"), a.body, status, contentType, body)
	}
}

func TestCalendarSubmit(t *testing.T) {
	s := newCalendarService(t, "https://notary.example/ots")
	// Until the log's first entry is in a checkpoint, the service's URL is the request's.
	first := sha256.Sum256([]byte("first"))
	a := calDo(t, http.MethodPost, s.url+"/digest", bytes.NewReader(first[:]), "Accept", ots.MediaType)
	a.want(t, http.StatusOK, "application/octet-stream", "")
	ts, err := ots.ParseTimestamp(a.body, first[:])
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.AllAttestations(); len(got) != 1 || got[0].Attestation != (ots.Pending{URI: s.url}) || len(ts.Branches) != 0 {
		t.Fatalf("calAnswer %v, want a pending attestation of %s on the digest", ts, s.url)
	}
	s.checkpointed(t, first)

	t.Run("32 bytes", func(t *testing.T) {
		d := sha256.Sum256([]byte("document"))
		a := calDo(t, http.MethodPost, s.url+"/digest", bytes.NewReader(d[:]))
		a.want(t, http.StatusOK, "application/octet-stream", "")
		// 00, pending tag, varbytes(varbytes(URI)): the URI of the configured URL.
		want := "00" + "83dfe30d2ef90c8e" + "1c1b" + hex.EncodeToString([]byte("https://notary.example/ots/"))
		if got := hex.EncodeToString(a.body); got != want {
			t.Fatalf("calAnswer %s, want %s", got, want)
		}
		if _, err := s.svc.Lookup(context.Background(), d); err != nil {
			t.Fatalf("the digest is not logged: %v", err)
		}
	})
	t.Run("other lengths are hashed", func(t *testing.T) {
		for _, body := range [][]byte{{}, []byte("short"), bytes.Repeat([]byte{1}, calendar.MaxDigestLen)} {
			a := calDo(t, http.MethodPost, s.url+"/digest", bytes.NewReader(body))
			a.want(t, http.StatusOK, "application/octet-stream", "")
			ts, err := ots.ParseTimestamp(a.body, body)
			if err != nil {
				t.Fatal(err)
			}
			d := sha256.Sum256(body)
			atts := ts.AllAttestations()
			if len(ts.Branches) != 1 || ts.Branches[0].Op.Code != ots.OpSHA256 || len(atts) != 1 || !bytes.Equal(atts[0].Node.Msg, d[:]) {
				t.Fatalf("calAnswer for %d bytes: %v", len(body), ts)
			}
			if _, err := s.svc.Lookup(context.Background(), d); err != nil {
				t.Fatalf("the SHA-256 of %d bytes is not logged: %v", len(body), err)
			}
		}
	})
	t.Run("too long", func(t *testing.T) {
		calDo(t, http.MethodPost, s.url+"/digest", bytes.NewReader(make([]byte, calendar.MaxDigestLen+1))).
			want(t, http.StatusBadRequest, "text/plain", "digest too long")
	})
	t.Run("no length", func(t *testing.T) {
		calDo(t, http.MethodPost, s.url+"/digest", io.MultiReader(bytes.NewReader(first[:]))).
			want(t, http.StatusBadRequest, "text/plain", "invalid Content-Length")
	})
}

func TestCalendarTimestamp(t *testing.T) {
	s := newCalendarService(t, "https://notary.example")
	d := sha256.Sum256([]byte("document"))
	s.checkpointed(t, d)
	get := func(t *testing.T, commitment string) calAnswer {
		return calDo(t, http.MethodGet, s.url+"/timestamp/"+commitment, nil, "Accept", ots.MediaType)
	}
	cache := func(t *testing.T, a calAnswer, want string) {
		t.Helper()
		if got := a.header.Get("Cache-Control"); got != want {
			t.Errorf("Cache-Control %q, want %q", got, want)
		}
	}

	a := get(t, "not-hex")
	a.want(t, http.StatusBadRequest, "text/plain", "commitment must be hex-encoded bytes")
	cache(t, a, "public, max-age=31536000")
	unknown := sha256.Sum256([]byte("unknown"))
	for _, c := range []string{"00", hex.EncodeToString(unknown[:])} {
		a = get(t, c)
		a.want(t, http.StatusNotFound, "text/plain", "Not found")
		cache(t, a, "public, max-age=60")
	}
	get(t, hex.EncodeToString(d[:])).want(t, http.StatusNotFound, "text/plain", "Pending confirmation in Bitcoin blockchain")

	final := s.finalAnchor(t)
	mempool := *final
	mempool.Status, mempool.Bitcoin, mempool.Confirmations = service.AnchorMempool, nil, 0
	s.anchors.set(&mempool)
	get(t, hex.EncodeToString(d[:])).want(t, http.StatusNotFound, "text/plain", "Pending confirmation in Bitcoin blockchain")
	confirmed := mempool
	confirmed.Status, confirmed.Confirmations = service.AnchorConfirmed, 1
	s.anchors.set(&confirmed)
	get(t, hex.EncodeToString(d[:])).want(t, http.StatusNotFound, "text/plain",
		"Timestamped by transaction "+final.TxID+"; waiting for more confirmations, 1 so far")

	s.anchors.set(final)
	a = get(t, strings.ToUpper(hex.EncodeToString(d[:])))
	a.want(t, http.StatusOK, "application/octet-stream", "")
	cache(t, a, "public, max-age=31536000")
	ts, err := ots.ParseTimestamp(a.body, d[:])
	if err != nil {
		t.Fatal(err)
	}
	atts := ts.AllAttestations()
	root := notary.Header(final.Bitcoin.Header).MerkleRoot()
	if len(atts) != 1 || atts[0].Attestation != (ots.Bitcoin{Height: 144}) || !bytes.Equal(atts[0].Node.Msg, root[:]) {
		t.Fatalf("calAnswer %v, want a Bitcoin attestation at 144 on the header's Merkle root", ts)
	}
}

func TestExport(t *testing.T) {
	s := newCalendarService(t, "https://notary.example")
	d := sha256.Sum256([]byte("document"))
	s.checkpointed(t, d)
	base := s.url + "/v1/timestamps/" + hex.EncodeToString(d[:])
	parse := func(t *testing.T, a calAnswer) *ots.File {
		t.Helper()
		a.want(t, http.StatusOK, ots.MediaType, "")
		if got, want := a.header.Get("Content-Disposition"), `attachment; filename="`+hex.EncodeToString(d[:])+`.ots"`; got != want {
			t.Errorf("Content-Disposition %q, want %q", got, want)
		}
		f, err := ots.ParseFile(a.body)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Digest(), d[:]) || f.HashOp != ots.OpSHA256 {
			t.Fatalf("file of %s %x", ots.OpName(f.HashOp), f.Digest())
		}
		return f
	}
	pendingAtt := []ots.Attested{{Attestation: ots.Pending{URI: "https://notary.example"}}}
	for name, a := range map[string]calAnswer{
		".ots":          calDo(t, http.MethodGet, base+".ots", nil),
		"Accept":        calDo(t, http.MethodGet, base, nil, "Accept", ots.MediaType),
		"Accept list":   calDo(t, http.MethodGet, base, nil, "Accept", "application/json;q=0.5, application/vnd.opentimestamps.v1"),
		"Accept and q=": calDo(t, http.MethodGet, base, nil, "Accept", "application/vnd.opentimestamps.v1; q=0.9"),
	} {
		t.Run(name, func(t *testing.T) {
			atts := parse(t, a).Timestamp.AllAttestations()
			if len(atts) != 1 || atts[0].Attestation != pendingAtt[0].Attestation {
				t.Fatalf("attestations %v, want %v", atts, pendingAtt)
			}
		})
	}
	t.Run("JSON otherwise", func(t *testing.T) {
		for _, accept := range []string{"", "application/json", "application/vnd.opentimestamps.v1;q=0"} {
			a := calDo(t, http.MethodGet, base, nil, "Accept", accept)
			a.want(t, http.StatusOK, "application/json", "")
			if a.header.Get("Vary") != "Accept" {
				t.Errorf("Vary %q", a.header.Get("Vary"))
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		calDo(t, http.MethodGet, s.url+"/v1/timestamps/xyz.ots", nil).want(t, http.StatusBadRequest, "application/json", "")
		unknown := sha256.Sum256([]byte("unknown"))
		calDo(t, http.MethodGet, s.url+"/v1/timestamps/"+hex.EncodeToString(unknown[:])+".ots", nil).want(t, http.StatusNotFound, "application/json", "")
	})
	t.Run("complete", func(t *testing.T) {
		final := s.finalAnchor(t)
		s.anchors.set(final)
		atts := parse(t, calDo(t, http.MethodGet, base+".ots", nil)).Timestamp.AllAttestations()
		root := notary.Header(final.Bitcoin.Header).MerkleRoot()
		if len(atts) != 1 || atts[0].Attestation != (ots.Bitcoin{Height: 144}) || !bytes.Equal(atts[0].Node.Msg, root[:]) {
			t.Fatalf("attestations %v, want Bitcoin 144 on %x", atts, root)
		}
	})
}

func TestServiceURI(t *testing.T) {
	for base, want := range map[string]string{
		"http://127.0.0.1:8080":        "http://127.0.0.1:8080",
		"http://127.0.0.1:8080/":       "http://127.0.0.1:8080",
		"https://notary.example/ots":   "https://notary.example/ots/",
		"https://notary.example/ots//": "https://notary.example/ots/",
		"https://user@notary.example":  "",
		"http://[::1]:8080":            "",
		"https://notary.example/?x=1":  "",
		"ftp://notary.example":         "",
		"notary.example":               "",
	} {
		got, err := calendar.ServiceURI(base)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("ServiceURI(%q) = %q, %v; want %q", base, got, err, want)
		}
	}
}

// goldenProofs are notary's golden JSON proofs and the .ots files made of them.
var goldenProofs = map[string]string{
	"../notary/testdata/proofs/valid-complete.json": "testdata/notary-complete.ots",
	"../notary/testdata/proofs/valid-pending.json":  "testdata/notary-pending.ots",
}

func readGoldenProof(t *testing.T, path string) *notary.Proof {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := notary.ParseProof(data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProofFileGolden turns the golden JSON proofs into .ots files: the complete one must
// lead from the digest to its header's Merkle root, the pending one name its service.
func TestProofFileGolden(t *testing.T) {
	for jsonPath, otsPath := range goldenProofs {
		t.Run(filepath.Base(otsPath), func(t *testing.T) {
			p := readGoldenProof(t, jsonPath)
			f, err := calendar.ProofFile(p, "")
			if err != nil {
				t.Fatal(err)
			}
			data, err := f.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if *updateOTS {
				if err := os.WriteFile(otsPath, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(otsPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, golden) {
				t.Fatalf("%s is not the .ots of %s: run go test ./calendar -run TestProofFileGolden -update", otsPath, jsonPath)
			}
			atts := f.Timestamp.AllAttestations()
			if len(atts) != 1 {
				t.Fatalf("attestations %v", atts)
			}
			if p.Complete() {
				root := notary.Header(p.Bitcoin.Header).MerkleRoot()
				if atts[0].Attestation != (ots.Bitcoin{Height: uint64(p.Bitcoin.Height)}) || !bytes.Equal(atts[0].Node.Msg, root[:]) {
					t.Fatalf("attestation %v on %x, want Bitcoin %d on %x", atts[0].Attestation, atts[0].Node.Msg, p.Bitcoin.Height, root)
				}
			} else if atts[0].Attestation != (ots.Pending{URI: p.Service}) || !bytes.Equal(atts[0].Node.Msg, p.Digest[:]) {
				t.Fatalf("attestation %v on %x, want pending at %s on the digest", atts[0].Attestation, atts[0].Node.Msg, p.Service)
			}
		})
	}
}

// TestProofFileThroughReference has the reference implementation read the golden .ots of
// notary's proofs: it must write them back byte for byte and, replaying the operations,
// reach the header's Merkle root.
func TestProofFileThroughReference(t *testing.T) {
	var files [][]byte
	var proofs []*notary.Proof
	for jsonPath, otsPath := range goldenProofs {
		data, err := os.ReadFile(otsPath)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, data)
		proofs = append(proofs, readGoldenProof(t, jsonPath))
	}
	for i, r := range reftest.Parse(t, files) {
		p := proofs[i]
		if !r.OK || r.Hex != hex.EncodeToString(files[i]) || r.Digest != p.Digest.String() {
			t.Fatalf("the reference reads %+v", r)
		}
		if len(r.Attestations) != 1 {
			t.Fatalf("the reference finds the attestations %v", r.Attestations)
		}
		msg, tag := r.Attestations[0][0], r.Attestations[0][1]
		if p.Complete() {
			root := notary.Header(p.Bitcoin.Header).MerkleRoot()
			if tag != ots.BitcoinTag.String() || msg != hex.EncodeToString(root[:]) {
				t.Errorf("the reference reaches %s (%s), not the Merkle root %x", msg, tag, root)
			}
		} else if tag != ots.PendingTag.String() || msg != p.Digest.String() {
			t.Errorf("the reference finds %s on %s", tag, msg)
		}
	}
}
