// Package monitor watches a notary log from outside, through what it publishes: its
// checkpoints and tiles (C2SP tlog-tiles, under URL/log) and its Bitcoin anchors (under
// URL/v1/anchors). It guarantees that every checkpoint it accepts is signed by the log key
// it was given and extends the last one it accepted, and that every anchor it saw
// commits a root of that same history (for a final anchor, as the complete proof through
// it shows, from the transaction's own bytes to a block header); otherwise it returns a
// *SplitViewError holding the two conflicting statements, which anyone can check.
//
// The tiles are checked against the checkpoint they are read for (with the Go checksum
// database's tlog reader), so a server cannot pass off other hashes as its tree.
package monitor

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/tiles"
)

// Size caps of what the monitor reads from a log.
const (
	maxCheckpoint = 64 << 10 // a signed note, with room for many cosignatures
	maxAnchors    = 4 << 20  // /v1/anchors?limit=1000 is about 250 KB
	maxTile       = tiles.FullWidth * merkle.HashSize
)

// requestTimeout bounds each request to the log.
const requestTimeout = 30 * time.Second

var (
	// ErrUnavailable is returned (wrapped) when the log could not be read: a network
	// error, an answer other than 200, a body too large. Trying again may help.
	ErrUnavailable = errors.New("monitor: the log did not answer as it should")
	// ErrBadLog is returned (wrapped) when the log answered something false that is not a
	// split view: a checkpoint not signed by the key, tiles that do not hash to the root
	// of the checkpoint they are served for.
	ErrBadLog = errors.New("monitor: the log published something invalid")
)

// SplitViewError is the evidence that the log shows two histories: two checkpoints it
// signed, neither a prefix of the other, or a checkpoint and an anchor that commits a
// root the checkpoint's history does not have.
type SplitViewError struct {
	// Earlier is the checkpoint accepted before (the state), as published.
	Earlier notary.Checkpoint
	// Later is the checkpoint published now.
	Later notary.Checkpoint
	// Anchor, if not nil, is the anchor that contradicts Later.
	Anchor *Anchor
	// Proof, if not nil, is the complete proof (notary-proof/v1, as the log served it)
	// whose Bitcoin transaction commits the root that contradicts Later.
	Proof []byte
	// Detail says what does not match.
	Detail string
}

func (e *SplitViewError) Error() string {
	return "monitor: split view: " + e.Detail
}

// Evidence writes the two conflicting statements for people and for a report.
func (e *SplitViewError) Evidence(w io.Writer) {
	fmt.Fprintf(w, "split view: %s\n", e.Detail)
	if e.Anchor != nil {
		fmt.Fprintf(w, "\nthe log lists the anchor (transaction %s, as explorers print it) as committing, at size %d, the root %s (hex)\n", e.Anchor.TxID, e.Anchor.LogSize, e.Anchor.Root)
		if e.Proof != nil {
			fmt.Fprintf(w, "\nthe complete proof the log serves through it:\n%s\n", bytes.TrimSpace(e.Proof))
		}
		fmt.Fprintf(w, "\nthe signed checkpoint of size %d:\n%s", e.Later.Size, e.Later.Note)
		return
	}
	fmt.Fprintf(w, "\nthe signed checkpoint seen before, of size %d:\n%s", e.Earlier.Size, e.Earlier.Note)
	fmt.Fprintf(w, "\nthe signed checkpoint seen now, of size %d:\n%s", e.Later.Size, e.Later.Note)
}

// Anchor is an anchor as the log lists it.
type Anchor struct {
	Status  string      `json:"status"`
	TxID    string      `json:"txid"`
	LogSize int64       `json:"log_size"`
	Root    merkle.Hash `json:"root"`
}

// Monitor reads one log.
type Monitor struct {
	base   string // the service's URL, no trailing slash
	vkey   string
	client *http.Client
}

// New returns a monitor of the notary at serviceURL whose checkpoints must be signed by
// the log key vkey. client may be nil.
func New(serviceURL, vkey string, client *http.Client) (*Monitor, error) {
	u, err := url.Parse(serviceURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("monitor: %q is not an http or https URL", serviceURL)
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &Monitor{base: strings.TrimSuffix(serviceURL, "/"), vkey: vkey, client: client}, nil
}

// Result is what one Check found.
type Result struct {
	Checkpoint notary.Checkpoint // the checkpoint accepted now
	Grew       bool              // whether it is larger than the one before
	Stale      bool              // the log served a checkpoint older than the one before, kept
	// Anchors counts the anchors whose roots were checked now against the checkpoint.
	Anchors int
	// Final are the transaction ids of the final anchors among them, whose transaction
	// was checked too, through the complete proof of the last entry it covers. A final
	// anchor once checked stays good as long as the log's checkpoints extend each other,
	// which Check holds them to: a caller passes them back in done.
	Final []string
}

// Check reads the log's checkpoint, and checks it against prev, the checkpoint accepted
// before (nil for none): same size, same root; larger, the tree at prev's size, read from
// tiles checked against the new checkpoint, has prev's root. It then checks every anchor
// the log lists, up to the new checkpoint's size, against that tree, but those whose
// transaction id done holds (checked before, against an earlier checkpoint).
//
// A checkpoint smaller than prev is reported as Stale and not accepted: a cache may serve
// an older one, and the tiles of prev's tree, beyond it, are not served to compare them
// with. A history that differs there is caught once the log shows a checkpoint at least as
// large as prev.
//
// Check returns a *SplitViewError for two histories, an error wrapping ErrBadLog or
// ErrUnavailable for the rest.
func (m *Monitor) Check(ctx context.Context, prev *notary.Checkpoint, done map[string]bool) (Result, error) {
	raw, err := m.get(ctx, "/log/checkpoint", maxCheckpoint)
	if err != nil {
		return Result{}, err
	}
	cp, err := notary.OpenCheckpoint(raw, m.vkey)
	if err != nil {
		return Result{}, fmt.Errorf("%w: its checkpoint: %v", ErrBadLog, err)
	}
	res := Result{Checkpoint: cp}
	if prev != nil && cp.Size < prev.Size {
		res.Checkpoint, res.Stale = *prev, true
		return res, nil
	}
	tree := tlog.Tree{N: cp.Size, Hash: tlog.Hash(cp.Root)}
	hr := tlog.TileHashReader(tree, &tileReader{m: m, ctx: ctx})
	root := func(size int64) (merkle.Hash, error) {
		h, err := tlog.TreeHash(size, hr)
		if err != nil {
			if errors.Is(err, ErrUnavailable) {
				return merkle.Hash{}, err
			}
			return merkle.Hash{}, fmt.Errorf("%w: its tiles for the checkpoint of size %d: %v", ErrBadLog, cp.Size, err)
		}
		return merkle.Hash(h), nil
	}
	// The tiles must give the checkpoint's own root.
	if cp.Size > 0 {
		if _, err := root(cp.Size); err != nil {
			return Result{}, err
		}
	}
	if prev != nil {
		switch {
		case cp.Size == prev.Size && cp.Root != prev.Root:
			return Result{}, &SplitViewError{Earlier: *prev, Later: cp,
				Detail: fmt.Sprintf("two checkpoints of size %d with different roots", cp.Size)}
		case cp.Size > prev.Size && prev.Size > 0:
			r, err := root(prev.Size)
			if err != nil {
				return Result{}, err
			}
			if r != prev.Root {
				return Result{}, &SplitViewError{Earlier: *prev, Later: cp,
					Detail: fmt.Sprintf("the checkpoint of size %d does not extend the one of size %d: its tree has root %s at size %d, not %s",
						cp.Size, prev.Size, b64(r), prev.Size, b64(prev.Root))}
			}
		}
		res.Grew = cp.Size > prev.Size
	}
	anchors, err := m.anchors(ctx)
	if err != nil {
		return Result{}, err
	}
	for i := range anchors {
		a := &anchors[i]
		if a.LogSize < 1 || a.LogSize > cp.Size || done[a.TxID] {
			continue // beyond this checkpoint (the next one covers it), or checked before
		}
		r, err := root(a.LogSize)
		if err != nil {
			return Result{}, err
		}
		split := func(proof []byte, detail string) error {
			e := &SplitViewError{Later: cp, Anchor: a, Proof: proof, Detail: detail}
			if prev != nil {
				e.Earlier = *prev
			}
			return e
		}
		if r != a.Root {
			return Result{}, split(nil, fmt.Sprintf("anchor %s commits root %s (hex) at size %d, but the checkpoint of size %d has root %s (hex) there",
				a.TxID, a.Root, a.LogSize, cp.Size, r))
		}
		res.Anchors++
		if a.Status != "final" {
			continue
		}
		v, raw, err := m.anchorProof(ctx, a)
		if err != nil {
			return Result{}, err
		}
		if v.LogSize < 1 || v.LogSize > cp.Size {
			return Result{}, fmt.Errorf("%w: the proof through anchor %s is of a tree of size %d, beyond the checkpoint's %d", ErrBadLog, a.TxID, v.LogSize, cp.Size)
		}
		if v.LogSize != a.LogSize {
			if r, err = root(v.LogSize); err != nil {
				return Result{}, err
			}
		}
		if v.LogRoot != r {
			return Result{}, split(raw, fmt.Sprintf("transaction %s commits root %s (hex) at size %d, but the checkpoint of size %d has root %s (hex) there",
				a.TxID, v.LogRoot, v.LogSize, cp.Size, r))
		}
		res.Final = append(res.Final, a.TxID)
	}
	return res, nil
}

// anchorProof reads the complete proof of the last entry final anchor a covers, which
// goes through a's transaction, and verifies it: the transaction commits its checkpoint's
// root, and its block header has it (and meets its network's proof of work). Which chain
// holds the block is not checked here; notary verify --node does that for any proof.
func (m *Monitor) anchorProof(ctx context.Context, a *Anchor) (*notary.Verified, []byte, error) {
	body, err := m.get(ctx, "/v1/entries/"+strconv.FormatInt(a.LogSize-1, 10), notary.MaxProofSize+maxCheckpoint)
	if err != nil {
		return nil, nil, err
	}
	var ts struct {
		Proof json.RawMessage `json:"proof"`
	}
	if err := json.Unmarshal(body, &ts); err != nil || len(ts.Proof) == 0 {
		return nil, nil, fmt.Errorf("%w: entry %d has no proof: %v", ErrBadLog, a.LogSize-1, err)
	}
	p, err := notary.ParseProof(ts.Proof)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the proof of entry %d: %v", ErrBadLog, a.LogSize-1, err)
	}
	if !p.Complete() {
		return nil, nil, fmt.Errorf("%w: the log lists anchor %s as final, but the proof of entry %d through it is not complete", ErrBadLog, a.TxID, a.LogSize-1)
	}
	v, err := notary.Verify(p, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the complete proof of entry %d does not verify: %v", ErrBadLog, a.LogSize-1, err)
	}
	if txid := notary.ReverseHex(v.TxID); txid != a.TxID {
		return nil, nil, fmt.Errorf("%w: the complete proof of entry %d goes through transaction %s, not anchor %s", ErrBadLog, a.LogSize-1, txid, a.TxID)
	}
	return v, ts.Proof, nil
}

// b64 writes a root as checkpoints do, in base64.
func b64(h merkle.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

// anchors reads the anchors the log lists, as many as it gives.
func (m *Monitor) anchors(ctx context.Context) ([]Anchor, error) {
	raw, err := m.get(ctx, "/v1/anchors?limit=1000", maxAnchors)
	if err != nil {
		return nil, err
	}
	var v struct {
		Anchors []Anchor `json:"anchors"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("%w: its anchors: %v", ErrBadLog, err)
	}
	return v.Anchors, nil
}

// Retries of a request the log turns away for now (429, 503).
const (
	maxRetries = 8
	maxBackoff = 30 * time.Second
)

// get reads the resource at path, at most limit bytes. It waits and tries again, a few
// times, when the log answers 429 or 503, as long as Retry-After says (30 s at most).
func (m *Monitor) get(ctx context.Context, path string, limit int64) ([]byte, error) {
	for try := 0; ; try++ {
		body, retryAfter, err := m.getOnce(ctx, path, limit)
		if retryAfter == 0 || try == maxRetries {
			return body, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: GET %s: %v", ErrUnavailable, path, ctx.Err())
		case <-time.After(retryAfter):
		}
	}
}

// getOnce is one request of get; retryAfter is how long to wait before the next if the
// log turned it away for now, else 0.
func (m *Monitor) getOnce(ctx context.Context, path string, limit int64) (body []byte, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.base+path, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: GET %s: %v", ErrUnavailable, path, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: GET %s: %v", ErrUnavailable, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("%w: GET %s: %s: %s", ErrUnavailable, path, resp.Status, bytes.TrimSpace(body[:min(len(body), 300)]))
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			retryAfter = time.Second
			if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs > 0 {
				retryAfter = min(time.Duration(secs)*time.Second, maxBackoff)
			}
		}
		return nil, retryAfter, err
	}
	if int64(len(body)) > limit {
		return nil, 0, fmt.Errorf("%w: GET %s: more than %d bytes", ErrUnavailable, path, limit)
	}
	return body, 0, nil
}

// tileReader reads tiles from the log for the sumdb's tile hash reader, which checks
// them against the tree before it uses them. It keeps those of one Check.
type tileReader struct {
	m     *Monitor
	ctx   context.Context
	cache map[tlog.Tile][]byte
}

func (r *tileReader) Height() int { return tiles.Height }

func (r *tileReader) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		if b, ok := r.cache[t]; ok {
			out[i] = b
			continue
		}
		p := tiles.Tile{Level: t.L, Index: t.N, Width: t.W}.Path()
		b, err := r.m.get(r.ctx, "/log/"+p, maxTile)
		if err != nil {
			return nil, err
		}
		if len(b) != t.W*merkle.HashSize {
			return nil, fmt.Errorf("%w: %s has %d bytes, not %d", ErrBadLog, p, len(b), t.W*merkle.HashSize)
		}
		out[i] = b
	}
	return out, nil
}

// SaveTiles keeps the tiles the hash reader has checked, for the rest of the Check.
func (r *tileReader) SaveTiles(ts []tlog.Tile, data [][]byte) {
	if r.cache == nil {
		r.cache = make(map[tlog.Tile][]byte)
	}
	for i, t := range ts {
		r.cache[t] = data[i]
	}
}
