// Package witness is a client of C2SP tlog-witness witnesses (https://c2sp.org/tlog-witness):
// it sends a log's signed checkpoints to the witnesses an operator configured, with a
// consistency proof from the size each witness last saw, and collects their C2SP
// tlog-cosignature/v1 cosignatures, each verified against the witness's configured key.
//
// It imports the verification library and merkle only, never the server.
package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// MaxWitnesses bounds how many witnesses a Pool asks: one request to each is under way
// at a time, so it bounds the requests under way too.
const MaxWitnesses = 16

// maxResponse bounds the body read from a witness: cosignature lines or an error message.
const maxResponse = 16 << 10

// Witness is one witness a log sends its checkpoints to.
type Witness struct {
	Name string // a label for logs, /v1/status and /metrics: letters, digits, '.', '_', '-'
	URL  string // the witness's prefix: checkpoints go to URL + "/add-checkpoint"
	Key  *notary.CosignatureVerifier
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Parse parses "NAME URL VKEY": a label, the witness's http(s) URL prefix and its
// cosignature/v1 verifier key.
func Parse(s string) (Witness, error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return Witness{}, fmt.Errorf("witness: %q is not \"NAME URL VKEY\"", s)
	}
	if !nameRE.MatchString(f[0]) {
		return Witness{}, fmt.Errorf("witness: name %q must be 1 to 64 letters, digits, '.', '_' or '-'", f[0])
	}
	u, err := url.Parse(f[1])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return Witness{}, fmt.Errorf("witness %s: %q is not an http(s) URL prefix", f[0], f[1])
	}
	k, err := notary.NewCosignatureVerifier(f[2])
	if err != nil {
		return Witness{}, fmt.Errorf("witness %s: %v", f[0], err)
	}
	return Witness{Name: f[0], URL: strings.TrimSuffix(f[1], "/"), Key: k}, nil
}

// Config configures a Pool.
type Config struct {
	Witnesses []Witness
	// Quorum is how many witnesses must cosign a checkpoint for Cosign to succeed (1 to
	// len(Witnesses); default all of them).
	Quorum int
	// Timeout bounds each request to a witness (default 10 s).
	Timeout time.Duration
	Client  *http.Client // default: a client of its own
	Logger  *slog.Logger
}

// Prover returns the RFC 6962 consistency proof between the log's trees of old and new
// entries.
type Prover func(ctx context.Context, old, new int64) ([]merkle.Hash, error)

// Pool sends checkpoints to a set of witnesses. Its methods are safe for concurrent use;
// Cosign calls are serialized, so that each witness has one request under way at most.
type Pool struct {
	cfg   Config
	round sync.Mutex // held by Cosign

	mu    sync.Mutex
	state []state
}

// state is what the pool knows of one witness.
type state struct {
	known      int64 // the size the witness last said it knows (0 at first)
	cosigned   int64 // the size of the latest checkpoint it cosigned, -1 if none
	cosignedAt time.Time
	err        string // the last request's failure, "" after a success
	errAt      time.Time
}

// Status is what a Pool knows of one witness.
type Status struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// CosignedSize is the size of the latest checkpoint the witness cosigned since this
	// process started, -1 if none.
	CosignedSize int64      `json:"cosigned_size"`
	CosignedAt   *time.Time `json:"cosigned_at,omitempty"`
	// Error is why the latest request to the witness failed, if it did.
	Error   string     `json:"error,omitempty"`
	ErrorAt *time.Time `json:"error_at,omitempty"`
}

// New checks cfg and returns a Pool.
func New(cfg Config) (*Pool, error) {
	n := len(cfg.Witnesses)
	switch {
	case n == 0:
		return nil, errors.New("witness: no witnesses")
	case n > MaxWitnesses:
		return nil, fmt.Errorf("witness: %d witnesses, at most %d", n, MaxWitnesses)
	case cfg.Quorum < 0 || cfg.Quorum > n:
		return nil, fmt.Errorf("witness: a quorum of %d cannot be met by %d witnesses", cfg.Quorum, n)
	}
	names, keys := map[string]bool{}, map[string]bool{}
	for _, w := range cfg.Witnesses {
		if names[w.Name] || keys[w.Key.String()] {
			return nil, fmt.Errorf("witness: %s is configured twice (by name or by key)", w.Name)
		}
		names[w.Name], keys[w.Key.String()] = true, true
	}
	if cfg.Quorum == 0 {
		cfg.Quorum = n
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pool{cfg: cfg, state: make([]state, n)}
	for i := range p.state {
		p.state[i].cosigned = -1
	}
	return p, nil
}

// Quorum returns how many cosignatures Cosign requires.
func (p *Pool) Quorum() int { return p.cfg.Quorum }

// Keys returns the witnesses' verifier keys, in the order they were configured.
func (p *Pool) Keys() []string {
	ks := make([]string, len(p.cfg.Witnesses))
	for i, w := range p.cfg.Witnesses {
		ks[i] = w.Key.String()
	}
	return ks
}

// Status returns what the pool knows of each witness, in the order they were configured.
func (p *Pool) Status() []Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Status, len(p.state))
	for i, s := range p.state {
		w := p.cfg.Witnesses[i]
		out[i] = Status{Name: w.Name, URL: w.URL, CosignedSize: s.cosigned, Error: s.err}
		if !s.cosignedAt.IsZero() {
			t := s.cosignedAt
			out[i].CosignedAt = &t
		}
		if s.err != "" {
			t := s.errAt
			out[i].ErrorAt = &t
		}
	}
	return out
}

// Cosign sends cp to every witness at once and waits for their answers, each bounded by
// the configured timeout. It returns cp with the verified cosignature lines appended to
// its note, in the order the witnesses were configured, if at least a quorum cosigned; if
// not, it returns an error naming each witness that failed and why (each also logged).
func (p *Pool) Cosign(ctx context.Context, cp notary.Checkpoint, prove Prover) (notary.Checkpoint, error) {
	p.round.Lock()
	defer p.round.Unlock()
	lines := make([][]byte, len(p.cfg.Witnesses))
	errs := make([]error, len(p.cfg.Witnesses))
	var wg sync.WaitGroup
	for i := range p.cfg.Witnesses {
		wg.Go(func() { lines[i], errs[i] = p.ask(ctx, i, cp, prove) })
	}
	wg.Wait()
	out := cp
	out.Note = bytes.Clone(cp.Note)
	var got int
	var failed []error
	for i, line := range lines {
		if errs[i] != nil {
			failed = append(failed, errs[i])
			continue
		}
		out.Note = append(out.Note, line...)
		got++
	}
	if got < p.cfg.Quorum {
		return notary.Checkpoint{}, fmt.Errorf("witness: %d of %d witnesses cosigned the checkpoint of size %d, %d required: %w",
			got, len(lines), cp.Size, p.cfg.Quorum, errors.Join(failed...))
	}
	return out, nil
}

// ask gets witness i's cosignature line of cp, and records the outcome.
func (p *Pool) ask(ctx context.Context, i int, cp notary.Checkpoint, prove Prover) ([]byte, error) {
	w := p.cfg.Witnesses[i]
	p.mu.Lock()
	old := p.state[i].known
	p.mu.Unlock()
	line, known, err := p.add(ctx, w, old, cp, prove)
	var conflict *ConflictError
	if errors.As(err, &conflict) && conflict.Known <= cp.Size {
		// The witness knows another size than we thought: start again from it, once.
		p.cfg.Logger.Info("witness knows another size of the log; retrying from it", "witness", w.Name, "sent_old", old, "known", conflict.Known)
		p.setKnown(i, conflict.Known)
		line, known, err = p.add(ctx, w, conflict.Known, cp, prove)
	}
	p.setKnown(i, known)
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &p.state[i]
	if err != nil {
		s.err, s.errAt = err.Error(), time.Now()
		p.cfg.Logger.Warn("witness did not cosign", "witness", w.Name, "url", w.URL, "size", cp.Size, "err", err)
		return nil, err
	}
	s.cosigned, s.cosignedAt, s.err = cp.Size, time.Now(), ""
	return line, nil
}

// setKnown records that witness i knows the log at size known, if known ≥ 0.
func (p *Pool) setKnown(i int, known int64) {
	if known < 0 {
		return
	}
	p.mu.Lock()
	p.state[i].known = known
	p.mu.Unlock()
}

// ConflictError is a witness's 409 answer: it knows the log at another size than the old
// size sent.
type ConflictError struct {
	Witness string
	Known   int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("witness %s: it knows the log at size %d, not the old size sent", e.Witness, e.Known)
}

// add makes one add-checkpoint request from old. It returns the witness's cosignature line,
// and the size the witness now knows, or -1 if it did not say.
func (p *Pool) add(ctx context.Context, w Witness, old int64, cp notary.Checkpoint, prove Prover) ([]byte, int64, error) {
	if old > cp.Size {
		return nil, -1, fmt.Errorf("witness %s: it knows the log at size %d, beyond the checkpoint of size %d: "+
			"it saw a checkpoint this log does not have (another log under the same origin, or a log that lost entries)", w.Name, old, cp.Size)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	var proof []merkle.Hash
	if old > 0 && old < cp.Size {
		var err error
		if proof, err = prove(ctx, old, cp.Size); err != nil {
			return nil, -1, fmt.Errorf("witness %s: consistency proof %d→%d: %v", w.Name, old, cp.Size, err)
		}
	}
	var body bytes.Buffer
	fmt.Fprintf(&body, "old %d\n", old)
	for _, h := range proof {
		body.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	body.WriteString("\n")
	body.Write(cp.Note)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL+"/add-checkpoint", &body)
	if err != nil {
		return nil, -1, fmt.Errorf("witness %s: %v", w.Name, err)
	}
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return nil, -1, fmt.Errorf("witness %s: %v", w.Name, err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, -1, fmt.Errorf("witness %s: reading its answer: %v", w.Name, err)
	}
	if len(text) > maxResponse {
		return nil, -1, fmt.Errorf("witness %s: its answer is longer than %d bytes", w.Name, maxResponse)
	}
	msg := strings.TrimSpace(string(text))
	switch resp.StatusCode {
	case http.StatusOK:
		line, err := cosignatureLine(w, cp, text)
		if err != nil {
			return nil, -1, err
		}
		return line, cp.Size, nil
	case http.StatusConflict:
		n, err := strconv.ParseInt(msg, 10, 64)
		if err != nil || n < 0 {
			return nil, -1, fmt.Errorf("witness %s: 409 Conflict without a size (%q)", w.Name, msg)
		}
		return nil, n, &ConflictError{Witness: w.Name, Known: n}
	case http.StatusNotFound:
		return nil, -1, fmt.Errorf("witness %s: 404: it does not know the log %q: ask its operator to add the origin and the log's key (%s)", w.Name, cp.Origin, msg)
	case http.StatusForbidden:
		return nil, -1, fmt.Errorf("witness %s: 403: it does not accept the log's signature: check that it has the log's current key (%s)", w.Name, msg)
	case http.StatusUnprocessableEntity:
		return nil, -1, fmt.Errorf("witness %s: 422: it says the consistency proof %d→%d is wrong (%s)", w.Name, old, cp.Size, msg)
	case http.StatusBadRequest:
		return nil, -1, fmt.Errorf("witness %s: 400: it refused the request as malformed (%s)", w.Name, msg)
	default:
		return nil, -1, fmt.Errorf("witness %s: %s (%s)", w.Name, resp.Status, msg)
	}
}

// cosignatureLine finds in text, a witness's answer of note signature lines, the line of
// its key and checks that it cosigns cp.
func cosignatureLine(w Witness, cp notary.Checkpoint, text []byte) ([]byte, error) {
	body, _, ok := bytes.Cut(cp.Note, []byte("\n\n"))
	if !ok {
		return nil, errors.New("witness: the checkpoint is not a signed note")
	}
	for line := range strings.Lines(string(text)) {
		if !strings.HasSuffix(line, "\n") {
			break
		}
		// One signed note of the checkpoint and this line: note.Open checks the line with
		// the witness's key alone.
		n, err := note.Open(append(append(bytes.Clone(body), "\n\n"...), line...), note.VerifierList(w.Key))
		if err == nil && len(n.Sigs) == 1 {
			return []byte(line), nil
		}
		var bad *note.InvalidSignatureError
		if errors.As(err, &bad) {
			return nil, fmt.Errorf("witness %s: its cosignature does not verify with its configured key", w.Name)
		}
	}
	return nil, fmt.Errorf("witness %s: its answer has no cosignature line by its configured key %s", w.Name, w.Key)
}
