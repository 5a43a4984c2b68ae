package api

import (
	"context"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/witness"
)

// InclusionView is the answer to GET /v1/proofs/inclusion.
type InclusionView struct {
	Index    int64         `json:"index"`
	Size     int64         `json:"size"`
	LeafHash merkle.Hash   `json:"leaf_hash"`
	Root     merkle.Hash   `json:"root"`
	Proof    []merkle.Hash `json:"proof"`
}

// ConsistencyView is the answer to GET /v1/proofs/consistency.
type ConsistencyView struct {
	Old     int64         `json:"old"`
	New     int64         `json:"new"`
	OldRoot merkle.Hash   `json:"old_root"`
	NewRoot merkle.Hash   `json:"new_root"`
	Proof   []merkle.Hash `json:"proof"`
}

// AnchorsView is the answer to GET /v1/anchors.
type AnchorsView struct {
	Anchors []AnchorView `json:"anchors"`
}

// KeysView is the answer to GET /v1/keys: what verifies the service's signatures.
type KeysView struct {
	Origin string `json:"origin"`
	// LogKey is the signed-note verifier key of checkpoints and batch receipts.
	LogKey string `json:"log_key"`
	KeyID  string `json:"key_id"` // its key hash, as timestamps and batch receipts give it
	// WebhookKey is the base64 Ed25519 public key of webhook signatures; null when the
	// server sends no webhooks.
	WebhookKey *string `json:"webhook_key"`
	// WitnessKeys are the cosignature/v1 verifier keys of the witnesses the log sends its
	// checkpoints to, and WitnessQuorum how many must cosign one; absent without witnesses.
	WitnessKeys   []string `json:"witness_keys,omitempty"`
	WitnessQuorum int      `json:"witness_quorum,omitempty"`
}

// StatusView is the answer to GET /v1/status: the service at a glance.
type StatusView struct {
	Origin     string             `json:"origin"`
	LogSize    int64              `json:"log_size"`
	Checkpoint CheckpointView     `json:"checkpoint"`
	Anchors    []AnchorView       `json:"anchors"`     // the most recent, newest first
	NextAnchor *time.Time         `json:"next_anchor"` // null while an anchor is pending, or without Bitcoin
	NodeHeight *int64             `json:"node_height"` // null when the node does not answer
	Wallet     *WalletView        `json:"wallet"`      // null without Bitcoin
	Network    string             `json:"network"`
	Webhooks   *WebhookCountsView `json:"webhooks,omitempty"`
	// Writer is the process that writes the log (null while none does); FollowerLag how
	// far this process's view of the log trails the database (zeros on the writer).
	Writer      *WriterView     `json:"writer"`
	FollowerLag FollowerLagView `json:"follower_lag"`
	// Standbys are the database's standby servers and how far each trails (left out when
	// there are none, or when the database does not answer).
	Standbys []StandbyView `json:"standbys,omitempty"`
	// Witnesses is the writer's view of its witnesses; absent without witnesses, and on a
	// follower.
	Witnesses *WitnessesView `json:"witnesses,omitempty"`
}

// WitnessesView is what the writer knows of its witnesses: the quorum it requires, the size
// of the latest checkpoint a quorum cosigned (-1: none since it started), and each
// witness's latest cosigned size and latest failure.
type WitnessesView struct {
	Quorum       int              `json:"quorum"`
	CosignedSize int64            `json:"cosigned_size"`
	Witnesses    []witness.Status `json:"witnesses"`
}

// FollowerLagView is how far a follower's view of the log trails the database: entries
// it learnt of at its last read of the log's head, how long ago that read was, and
// whether the database tells it of every commit (else it reads the head only now and then).
type FollowerLagView struct {
	Entries  int64   `json:"entries"`
	Seconds  float64 `json:"seconds"`
	Watching bool    `json:"watching"`
}

// CheckpointView sums up the latest checkpoint.
type CheckpointView struct {
	Size       int64       `json:"size"`
	Root       merkle.Hash `json:"root"`
	AgeSeconds int64       `json:"age_seconds"` // since this process signed or loaded it
}

// WalletView is the anchoring wallet.
type WalletView struct {
	Address      string `json:"address"`
	BalanceSat   int64  `json:"balance_sat"`
	SpendableSat int64  `json:"spendable_sat"`
}

// WebhookCountsView counts webhooks.
type WebhookCountsView struct {
	Pending int64 `json:"pending"`
	Failed  int64 `json:"failed"`
}

// ReadyView is the answer to GET /readyz.
type ReadyView struct {
	Ready    bool       `json:"ready"`
	Role     string     `json:"role"` // "writer", or "follower" of a log another process writes
	Database *CheckView `json:"database"`
	Node     *CheckView `json:"node,omitempty"` // absent without Bitcoin
}

// CheckView is one readiness check.
type CheckView struct {
	OK     bool   `json:"ok"`
	Height *int64 `json:"height,omitempty"` // the node's
	Error  string `json:"error,omitempty"`
}

// statusAnchors is how many anchors /v1/status lists.
const statusAnchors = 10

// maxAnchors is how many anchors /v1/anchors lists at most (?limit=, default 100).
const maxAnchors = 1000

func (h *handlers) inclusion(c echo.Context) error {
	index, err := queryCount(c, "index")
	if err != nil {
		return err
	}
	size, err := queryCount(c, "size")
	if err != nil {
		return err
	}
	p, err := h.svc.ProveInclusion(c.Request().Context(), index, size)
	if errors.Is(err, service.ErrBadRange) {
		return apiError(codeBadRequest, "%s", clientText(err))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, InclusionView{Index: p.Index, Size: p.Size, LeafHash: p.LeafHash, Root: p.Root, Proof: nonNil(p.Proof)})
}

func (h *handlers) consistency(c echo.Context) error {
	old, err := queryCount(c, "old")
	if err != nil {
		return err
	}
	size, err := queryCount(c, "new")
	if err != nil {
		return err
	}
	p, err := h.svc.ProveConsistency(c.Request().Context(), old, size)
	if errors.Is(err, service.ErrBadRange) {
		return apiError(codeBadRequest, "%s", clientText(err))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ConsistencyView{Old: p.Old, New: p.New, OldRoot: p.OldRoot, NewRoot: p.NewRoot, Proof: nonNil(p.Proof)})
}

// clientText is an error's message without the package prefixes of its chain.
func clientText(err error) string {
	s := err.Error()
	for _, p := range []string{"notary: out of range: ", "notary: "} {
		if len(s) > len(p) && s[:len(p)] == p {
			return s[len(p):]
		}
	}
	return s
}

func nonNil(hs []merkle.Hash) []merkle.Hash {
	if hs == nil {
		return []merkle.Hash{}
	}
	return hs
}

// queryCount reads a required non-negative integer query parameter.
func queryCount(c echo.Context, name string) (int64, error) {
	s := c.QueryParam(name)
	if s == "" {
		return 0, apiError(codeBadRequest, "the query parameter %s is required", name)
	}
	n, err := parseCount(s)
	if err != nil {
		return 0, apiError(codeBadRequest, "%s must be a non-negative decimal number, not %q", name, s)
	}
	return n, nil
}

func (h *handlers) anchors(c echo.Context) error {
	limit := int64(100)
	if s := c.QueryParam("limit"); s != "" {
		n, err := parseCount(s)
		if err != nil || n < 1 || n > maxAnchors {
			return apiError(codeBadRequest, "limit must be a number from 1 to %d, not %q", maxAnchors, s)
		}
		limit = n
	}
	return c.JSON(http.StatusOK, AnchorsView{Anchors: h.anchorViews(int(limit))})
}

// anchorViews returns the views of at most limit anchors, newest first.
func (h *handlers) anchorViews(limit int) []AnchorView {
	views := []AnchorView{}
	if h.cfg.Chain == nil {
		return views
	}
	for _, a := range h.cfg.Chain.Anchors() {
		if len(views) == limit {
			break
		}
		views = append(views, *anchorJSON(&a))
	}
	return views
}

func (h *handlers) keys(c echo.Context) error {
	v := KeysView{Origin: h.svc.Origin(), LogKey: h.svc.VerifierKey()}
	v.WitnessKeys, v.WitnessQuorum = h.svc.WitnessKeys()
	if verifier, err := note.NewVerifier(v.LogKey); err == nil {
		v.KeyID = fmt.Sprintf("%08x", verifier.KeyHash())
	}
	if w := h.cfg.Webhooks; w != nil {
		k := base64.StdEncoding.EncodeToString(w.PublicKey())
		v.WebhookKey = &k
	}
	return c.JSON(http.StatusOK, v)
}

func (h *handlers) status(c echo.Context) error {
	ctx := c.Request().Context()
	cp := h.svc.LatestCheckpoint()
	v := StatusView{
		Origin:  h.svc.Origin(),
		LogSize: h.svc.Size(),
		Checkpoint: CheckpointView{
			Size: cp.Size, Root: cp.Root,
			AgeSeconds: int64(max(time.Since(h.svc.CheckpointTime()), 0) / time.Second),
		},
		Anchors: h.anchorViews(statusAnchors),
	}
	if chain := h.cfg.Chain; chain != nil {
		if t, ok := chain.NextAnchor(); ok {
			t = t.UTC().Truncate(time.Second)
			v.NextAnchor = &t
		}
		if n := h.probe.check(ctx); n.err == nil {
			v.NodeHeight = &n.height
		}
		w, err := chain.Wallet(ctx)
		if err != nil {
			return err
		}
		v.Network = w.Network
		v.Wallet = &WalletView{Address: w.Address, BalanceSat: w.Balance, SpendableSat: w.Spendable}
	}
	if w, ok, err := h.writer(ctx); err == nil && ok {
		v.Writer = &w
	}
	entries, age := h.svc.FollowerLag()
	v.FollowerLag = FollowerLagView{Entries: entries, Seconds: age.Seconds(), Watching: h.svc.FollowStats().Watching}
	if h.cfg.Cluster != nil {
		if standbys, err := h.cfg.Cluster.Standbys(ctx); err == nil {
			v.Standbys = standbys
		}
	}
	if ws, quorum := h.svc.Witnesses(); ws != nil {
		v.Witnesses = &WitnessesView{Quorum: quorum, CosignedSize: -1, Witnesses: ws}
		if c, ok := h.svc.CosignedCheckpoint(); ok {
			v.Witnesses.CosignedSize = c.Size
		}
	}
	if w := h.cfg.Webhooks; w != nil {
		if pending, failed, err := w.Counts(ctx); err == nil {
			v.Webhooks = &WebhookCountsView{Pending: pending, Failed: failed}
		}
	}
	return c.JSON(http.StatusOK, v)
}

// writer returns the process that writes the log: the Cluster's answer, or this one.
func (h *handlers) writer(ctx context.Context) (WriterView, bool, error) {
	if h.cfg.Cluster != nil {
		return h.cfg.Cluster.Writer(ctx)
	}
	return WriterView{Epoch: h.svc.Epoch(), ThisProcess: true}, true, nil
}

func (h *handlers) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyTimeout bounds each readiness check.
const readyTimeout = 3 * time.Second

func (h *handlers) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	v := ReadyView{Ready: true, Role: "writer", Database: &CheckView{OK: true}}
	if h.svc.Follower() {
		v.Role = "follower"
	}
	if db := h.cfg.Database; db != nil {
		if err := db.Ping(ctx); err != nil {
			v.Ready, v.Database = false, &CheckView{Error: err.Error()}
		}
	}
	if h.cfg.Chain != nil {
		n := h.probe.check(ctx)
		v.Node = &CheckView{OK: n.recent}
		if n.err == nil {
			v.Node.Height = &n.height
		} else {
			v.Node.Error = n.err.Error()
		}
		v.Ready = v.Ready && n.recent
	}
	status := http.StatusOK
	if !v.Ready {
		status = http.StatusServiceUnavailable
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(status, v)
}

// nodeProbe asks the node for its height at most every nodeProbeEvery, so that /readyz,
// /v1/status and /metrics together cost the node one call now and then.
type nodeProbe struct {
	chain Chain

	mu    sync.Mutex
	asked time.Time // when the node was last asked
	last  nodeState
	okAt  time.Time // when it last answered
}

type nodeState struct {
	height int64
	err    error
	recent bool // the node answered within nodeRecent
}

const (
	nodeProbeEvery = 5 * time.Second
	nodeRecent     = 30 * time.Second
	nodeTimeout    = 2 * time.Second
)

// check returns what the node last said, asking it again if that is older than nodeProbeEvery.
func (p *nodeProbe) check(ctx context.Context) nodeState {
	if p.chain == nil {
		return nodeState{err: errors.New("no Bitcoin node")}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.asked) >= nodeProbeEvery {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), nodeTimeout)
		height, err := p.chain.NodeHeight(cctx)
		cancel()
		p.asked = time.Now()
		p.last = nodeState{height: height, err: err}
		if err == nil {
			p.okAt = p.asked
		}
	}
	st := p.last
	st.recent = !p.okAt.IsZero() && now.Sub(p.okAt) < nodeRecent
	return st
}

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3.1 document of the API, as served at /v1/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

func (h *handlers) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDocument)
}

// Starting returns the handler a process serves while it opens the log: /healthz answers
// 200 (the process is alive), /readyz 503 with "starting": true, and every other request
// 503 with the error code starting and Retry-After, at once rather than after the wait.
func Starting() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		switch r.URL.Path {
		case "/healthz":
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"status":"starting"}`+"\n")
		case "/readyz":
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"ready":false,"starting":true}`+"\n")
		default:
			w.Header().Set("Retry-After", "1")
			writeError(w, apiError(codeStarting, "the service is starting; try again in a second"))
		}
	})
}
