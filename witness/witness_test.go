package witness_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/witness"
)

// fakeWitness answers add-checkpoint requests as a tlog-witness does, from its own state,
// signing with torchwood's cosignature/v1 signer. Tests of the real protocol run against
// litewitness (cmd/notary); this one exercises each answer the client must handle.
type fakeWitness struct {
	t      *testing.T
	signer *torchwood.CosignatureSigner
	vkey   string
	srv    *httptest.Server

	mu       sync.Mutex
	known    int64
	requests []string                                    // the old size of each request
	answer   func(w http.ResponseWriter, old int64) bool // if set and true, it answered
}

func newFakeWitness(t *testing.T, name string) *fakeWitness {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	s, err := torchwood.NewCosignatureSigner(name, ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeWitness{t: t, signer: s, vkey: s.Verifier().String()}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWitness) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/add-checkpoint" {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	head, signed, _ := bytes.Cut(body, []byte("\n\n"))
	lines := strings.Split(string(head), "\n")
	old, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "old "), 10, 64)
	if err != nil {
		http.Error(w, "bad old size", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, strconv.FormatInt(old, 10))
	if f.answer != nil && f.answer(w, old) {
		return
	}
	if old != f.known {
		w.Header().Set("Content-Type", "text/x.tlog.size")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintf(w, "%d\n", f.known)
		return
	}
	text := string(signed[:bytes.Index(signed, []byte("\n\n"))+1])
	size, _ := strconv.ParseInt(strings.Split(text, "\n")[1], 10, 64)
	out, err := note.Sign(&note.Note{Text: text}, f.signer)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	f.known = size
	w.Write(out[bytes.LastIndex(out, []byte("\n\n"))+2:])
}

func (f *fakeWitness) spec(name string) witness.Witness {
	f.t.Helper()
	w, err := witness.Parse(name + " " + f.srv.URL + " " + f.vkey)
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

// testLog is a log of n leaves whose checkpoints the tests sign.
type testLog struct {
	hashes []merkle.Hash // stored hashes
	n      int64
	signer note.Signer
}

func (l *testLog) ReadHashes(idx []int64) ([]merkle.Hash, error) {
	out := make([]merkle.Hash, len(idx))
	for i, x := range idx {
		out[i] = l.hashes[x]
	}
	return out, nil
}

func (l *testLog) grow(t *testing.T, n int64) notary.Checkpoint {
	t.Helper()
	for ; l.n < n; l.n++ {
		hs, err := merkle.StoredHashes(l.n, merkle.Hash{byte(l.n), 1}, l)
		if err != nil {
			t.Fatal(err)
		}
		l.hashes = append(l.hashes, hs...)
	}
	root, err := merkle.TreeHash(n, l)
	if err != nil {
		t.Fatal(err)
	}
	if l.signer == nil {
		skey, _, err := note.GenerateKey(nil, "log.example")
		if err != nil {
			t.Fatal(err)
		}
		if l.signer, err = note.NewSigner(skey); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := notary.SignCheckpoint(n, root, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func (l *testLog) prove(_ context.Context, old, new int64) ([]merkle.Hash, error) {
	return merkle.ConsistencyProof(old, new, l)
}

func newPool(t *testing.T, quorum int, timeout time.Duration, ws ...witness.Witness) *witness.Pool {
	t.Helper()
	p, err := witness.New(witness.Config{Witnesses: ws, Quorum: quorum, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCosignAndConflict(t *testing.T) {
	ctx := context.Background()
	f := newFakeWitness(t, "w1.example")
	f.known = 3 // it saw the log at size 3 before this process started
	var l testLog
	l.grow(t, 3)
	p := newPool(t, 1, time.Minute, f.spec("w1"))

	cp := l.grow(t, 5)
	out, err := p.Cosign(ctx, cp, l.prove)
	if err != nil {
		t.Fatalf("Cosign: %v", err)
	}
	if got := strings.Join(f.requests, ","); got != "0,3" {
		t.Errorf("old sizes sent = %s, want 0 then, after the 409, 3", got)
	}
	v, err := notary.NewCosignatureVerifier(f.vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := notary.CheckCosignatures(out.Note, []*notary.CosignatureVerifier{v}, 1); err != nil {
		t.Errorf("the cosigned checkpoint: %v\n%s", err, out.Note)
	}
	if !bytes.HasPrefix(out.Note, cp.Note) || out.Size != cp.Size || out.Root != cp.Root {
		t.Errorf("the cosigned checkpoint is not the checkpoint with lines appended:\n%s", out.Note)
	}
	// The next round starts from the size the witness cosigned.
	f.requests = nil
	if _, err := p.Cosign(ctx, l.grow(t, 8), l.prove); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.requests, ","); got != "5" {
		t.Errorf("old sizes sent = %s, want 5", got)
	}
	st := p.Status()
	if len(st) != 1 || st[0].CosignedSize != 8 || st[0].Error != "" || st[0].CosignedAt == nil {
		t.Errorf("Status = %+v", st)
	}
}

// TestCosignRefusals checks what each refusal of a witness gives: an error that names the
// witness and says what to check, and no cosignature.
func TestCosignRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter)
		want   string
	}{
		{"404 unknown log", func(w http.ResponseWriter) { http.Error(w, "unknown log", http.StatusNotFound) }, "does not know the log"},
		{"403 bad signature", func(w http.ResponseWriter) { http.Error(w, "invalid signature", http.StatusForbidden) }, "current key"},
		{"422 bad proof", func(w http.ResponseWriter) { http.Error(w, "bad consistency proof", http.StatusUnprocessableEntity) }, "consistency proof 0→5 is wrong"},
		{"400", func(w http.ResponseWriter) { http.Error(w, "invalid input", http.StatusBadRequest) }, "malformed"},
		{"500", func(w http.ResponseWriter) { http.Error(w, "oops", http.StatusInternalServerError) }, "500 Internal Server Error (oops)"},
		{"409 without a size", func(w http.ResponseWriter) { w.WriteHeader(http.StatusConflict) }, "409 Conflict without a size"},
		{"409 beyond the checkpoint", func(w http.ResponseWriter) { w.WriteHeader(http.StatusConflict); fmt.Fprintln(w, 99) }, "knows the log at size 99"},
		{"no cosignature line", func(w http.ResponseWriter) { fmt.Fprintln(w, "— someone.else AAAA") }, "no cosignature line by its configured key"},
		{"an answer too long", func(w http.ResponseWriter) { w.Write(bytes.Repeat([]byte("x"), 17<<10)) }, "longer than 16384 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWitness(t, "w1.example")
			f.answer = func(w http.ResponseWriter, old int64) bool { tc.answer(w); return true }
			var l testLog
			p := newPool(t, 1, time.Minute, f.spec("w1"))
			_, err := p.Cosign(context.Background(), l.grow(t, 5), l.prove)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "witness w1") {
				t.Fatalf("Cosign error %v, want one naming w1 and saying %q", err, tc.want)
			}
			if st := p.Status(); st[0].Error == "" || st[0].CosignedSize != -1 || st[0].ErrorAt == nil {
				t.Errorf("Status = %+v, want the error and no cosigned size", st)
			}
		})
	}
}

// TestCosignForgedCosignature checks that a cosignature line bearing the witness's name
// and key hash that does not verify with its key is refused.
func TestCosignForgedCosignature(t *testing.T) {
	f := newFakeWitness(t, "w1.example")
	other := newFakeWitness(t, "w1.example")
	var l testLog
	cp := l.grow(t, 5)
	f.answer = func(w http.ResponseWriter, old int64) bool {
		// A cosignature by another key, under f's name and key hash.
		text := cp.Note[:bytes.Index(cp.Note, []byte("\n\n"))+1]
		msg, err := note.Sign(&note.Note{Text: string(text)}, other.signer)
		if err != nil {
			t.Error(err)
		}
		line := strings.TrimSpace(string(msg[bytes.LastIndex(msg, []byte("\n\n"))+2:]))
		raw, err := base64.StdEncoding.DecodeString(line[strings.LastIndex(line, " ")+1:])
		if err != nil || len(raw) < 4 {
			t.Errorf("the other witness's line %q", line)
			return true
		}
		binary.BigEndian.PutUint32(raw, f.signer.KeyHash())
		fmt.Fprintf(w, "— w1.example %s\n", base64.StdEncoding.EncodeToString(raw))
		return true
	}
	_, err := newPool(t, 1, time.Minute, f.spec("w1")).Cosign(context.Background(), cp, l.prove)
	if err == nil || !strings.Contains(err.Error(), "does not verify with its configured key") {
		t.Fatalf("Cosign error %v, want the forged cosignature refused", err)
	}
}

// TestCosignQuorum checks that a round succeeds with the quorum and fails without it, with
// the cosignatures of the witnesses that answered, in the configured order.
func TestCosignQuorum(t *testing.T) {
	ctx := context.Background()
	a, b, c := newFakeWitness(t, "a.example"), newFakeWitness(t, "b.example"), newFakeWitness(t, "c.example")
	c.answer = func(w http.ResponseWriter, old int64) bool {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	}
	var l testLog
	cp := l.grow(t, 4)
	out, err := newPool(t, 2, time.Minute, a.spec("a"), b.spec("b"), c.spec("c")).Cosign(ctx, cp, l.prove)
	if err != nil {
		t.Fatalf("two of three, two required: %v", err)
	}
	if i, j := bytes.Index(out.Note, []byte("— a.example ")), bytes.Index(out.Note, []byte("— b.example ")); i < 0 || j < i || bytes.Contains(out.Note, []byte("c.example")) {
		t.Errorf("cosigned note:\n%s", out.Note)
	}
	a2, b2, c2 := newFakeWitness(t, "a.example"), newFakeWitness(t, "b.example"), newFakeWitness(t, "c.example")
	c2.answer = c.answer
	_, err = newPool(t, 3, time.Minute, a2.spec("a"), b2.spec("b"), c2.spec("c")).Cosign(ctx, cp, l.prove)
	if err == nil || !strings.Contains(err.Error(), "2 of 3 witnesses cosigned the checkpoint of size 4, 3 required") || !strings.Contains(err.Error(), "witness c") {
		t.Errorf("two of three, three required: %v", err)
	}
}

// TestCosignTimeout checks the bound on one request: a witness that does not answer fails
// the round after the timeout, and the others' cosignatures still count.
func TestCosignTimeout(t *testing.T) {
	slow, fast := newFakeWitness(t, "slow.example"), newFakeWitness(t, "fast.example")
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow.answer = func(w http.ResponseWriter, old int64) bool {
		slow.mu.Unlock()
		<-release
		slow.mu.Lock()
		return true
	}
	var l testLog
	// The bound is the one under test; it is long enough that the fast witness, on a busy
	// machine, still answers within it.
	p := newPool(t, 1, 3*time.Second, slow.spec("slow"), fast.spec("fast"))
	out, err := p.Cosign(context.Background(), l.grow(t, 2), l.prove)
	if err != nil {
		t.Fatalf("Cosign: %v", err)
	}
	if !bytes.Contains(out.Note, []byte("— fast.example ")) || bytes.Contains(out.Note, []byte("slow.example")) {
		t.Errorf("cosigned note:\n%s", out.Note)
	}
	if st := p.Status(); !strings.Contains(st[0].Error, "deadline exceeded") {
		t.Errorf("the slow witness's status: %+v", st[0])
	}
}

func TestParse(t *testing.T) {
	f := newFakeWitness(t, "w1.example")
	for _, tc := range []struct {
		spec string
		ok   bool
	}{
		{"w1 https://w.example/prefix " + f.vkey, true},
		{"w1 http://127.0.0.1:7380 " + f.vkey, true},
		{"w1 https://w.example", false},
		{"w1 ftp://w.example " + f.vkey, false},
		{"w1 https://w.example?x=1 " + f.vkey, false},
		{"w/1 https://w.example " + f.vkey, false},
		{"w1 https://w.example " + "log.example+6e4c4b2a+AWjYhGc5kLqSgkoGCB9/Xj4xW2pTuMq7vXSTnM2sOqS7", false},
		{"w1 https://w.example " + f.vkey + " extra", false},
	} {
		_, err := witness.Parse(tc.spec)
		if (err == nil) != tc.ok {
			t.Errorf("Parse(%q) = %v, want ok %v", tc.spec, err, tc.ok)
		}
	}
	w := f.spec("w1")
	if _, err := witness.New(witness.Config{Witnesses: []witness.Witness{w, w}}); err == nil {
		t.Error("New accepted the same witness twice")
	}
	if _, err := witness.New(witness.Config{Witnesses: []witness.Witness{w}, Quorum: 2}); err == nil {
		t.Error("New accepted a quorum above the witnesses")
	}
	many := make([]witness.Witness, witness.MaxWitnesses+1)
	if _, err := witness.New(witness.Config{Witnesses: many}); err == nil || !strings.Contains(err.Error(), "at most 16") {
		t.Errorf("New with %d witnesses: %v", len(many), err)
	}
}
