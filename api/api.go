// Package api serves notary's REST API (under /v1), its health and metrics endpoints, the
// OpenTimestamps calendar and the web pages, with Echo.
//
// docs/api.md describes the API for integrators; openapi.json, served at /v1/openapi.json,
// is its OpenAPI 3.1 document, and a test holds it to the routes registered here. Every
// error is the JSON object {"error": {"code", "message"}}, its code one of ErrorCodes,
// mapped to its status in errors.go and nowhere else.
package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/tsa"
	"github.com/notary-dev/notary/webhook"
)

// MaxBodySize caps request bodies, but for the batch endpoint's.
const MaxBodySize = 64 << 10

// MaxBatchDigests is the most digests one batch submission takes.
const MaxBatchDigests = 10_000

// MaxBatchBodySize caps the body of a batch submission: MaxBatchDigests digests at 72
// bytes each (quotes, comma and a little white space) and MaxBodySize to spare.
const MaxBatchBodySize = MaxBatchDigests*72 + MaxBodySize

// MaxWait is the longest a lookup may be held (?wait=SECONDS).
const MaxWait = 60 * time.Second

// Config configures the API. Only Service is required: without the others the API serves
// without Bitcoin, API keys, webhooks or rate limits.
type Config struct {
	Service *service.Service
	// Pages, if set, is served at / (the web pages).
	Pages  fs.FS
	Logger *slog.Logger

	// Chain reports the Bitcoin side: anchors, wallet and node.
	Chain Chain
	// Database is checked by /readyz.
	Database Pinger
	// Keys holds the API keys. Without it, every bearer token is refused.
	Keys KeyStore
	// Webhooks delivers callbacks. Without it, submissions with a callback are refused.
	Webhooks *webhook.Dispatcher
	// Limits are the request rates allowed; the zero value allows any.
	Limits Limits
	// TrustedProxies are the networks of reverse proxies whose X-Forwarded-For header
	// names the client. Without them, the client is the connection's peer.
	TrustedProxies []*net.IPNet
	// Cluster says which process writes the log; /v1/status, /readyz and /metrics report
	// it. Without it, this process is taken to write the log alone.
	Cluster Cluster
	// ForwardKey, shared by the processes of one log, authenticates the client address of
	// a submission another process forwards to this one (see Forward).
	ForwardKey []byte
	// TileEntries serves the log's entry bundles (/log/tile/entries/…) besides its hash
	// tiles. A bundle holds every entry's digest, so a log publishes them only if its
	// operator chooses to.
	TileEntries bool
	// TSA, if set, signs the RFC 3161 time-stamp tokens of POST /tsa.
	TSA *tsa.Signer
	// Shutdown, once closed, ends every long poll at once, with the current answer, so
	// that a graceful shutdown does not wait for them.
	Shutdown <-chan struct{}
}

// Chain is what the API reports of the Bitcoin side. cmd/notary adapts the anchorer to it.
type Chain interface {
	// Anchors returns the live anchors, newest first.
	Anchors() []service.Anchor
	// NextAnchor returns the earliest time the next anchor may be made; ok is false while
	// one is pending.
	NextAnchor() (t time.Time, ok bool)
	// NodeHeight asks the Bitcoin node for its height, and so whether it answers.
	NodeHeight(ctx context.Context) (int64, error)
	// Wallet describes the anchoring wallet.
	Wallet(ctx context.Context) (Wallet, error)
}

// Wallet describes the anchoring wallet.
type Wallet struct {
	Network            string // "mainnet", "regtest", …
	Address            string // where to send coins
	Balance, Spendable int64  // satoshis
}

// Cluster says which process writes the log, and what replicates its database.
type Cluster interface {
	// Writer returns the process that writes the log now; ok is false while none does.
	Writer(ctx context.Context) (w WriterView, ok bool, err error)
	// Standbys returns the database's standby servers, as its primary sees them (none
	// for a store that has none, such as SQLite).
	Standbys(ctx context.Context) ([]StandbyView, error)
}

// StandbyView is a standby server of the log's database.
type StandbyView struct {
	Name string `json:"name"`
	// Synchronous: the primary acknowledges no commit before this standby has it, so that
	// promoting it loses no acknowledged entry.
	Synchronous bool `json:"synchronous"`
	// LagBytes is the WAL written on the primary that the standby has not replayed yet;
	// LagSeconds how long its latest replay trailed the commit (null when unknown, such as
	// after an idle spell).
	LagBytes   int64    `json:"lag_bytes"`
	LagSeconds *float64 `json:"lag_seconds"`
}

// WriterView is the process that writes the log.
type WriterView struct {
	URL         string    `json:"url"`
	Epoch       int64     `json:"epoch"`
	Since       time.Time `json:"since"`
	ThisProcess bool      `json:"this_process"`
}

// Pinger is the database, as /readyz checks it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// New returns the HTTP handler of the API and the pages.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(cfg.Logger)
	e.IPExtractor = forwardedIP(ipExtractor(cfg.TrustedProxies), cfg.ForwardKey)

	probe := &nodeProbe{chain: cfg.Chain}
	m := newMetrics(cfg, probe)
	h := &handlers{
		svc: cfg.Service, cfg: cfg, probe: probe, metrics: m,
		shutdown: shutdownContext(cfg.Shutdown),
	}
	acc := newAccess(cfg.Keys, cfg.Limits, m)
	h.acc = acc
	h.batches = newInFlight(cfg.Limits.Batches, cfg.Limits.BatchesPerClient)
	m.batches = h.batches

	// CORS first, so that preflight requests need no key and every answer, refusals
	// included, is readable by the pages of other origins.
	e.Use(cors)
	e.Use(m.middleware)
	e.Use(wholeSegments)
	e.Use(acc.middleware)

	get(e, "/healthz", h.healthz)
	get(e, "/readyz", h.readyz)
	get(e, "/metrics", m.serve)
	v1 := e.Group("/v1")
	v1.POST("/timestamps", h.submit)
	v1.POST("/timestamps/batch", h.submitBatch)
	get(v1, "/timestamps/:digest", h.lookup)
	get(v1, "/timestamps/:digest/proof", h.proof)
	get(v1, "/entries/:index", h.entry)
	get(v1, "/checkpoint", h.checkpoint)
	get(v1, "/proofs/inclusion", h.inclusion)
	get(v1, "/proofs/consistency", h.consistency)
	get(v1, "/anchors", h.anchors)
	get(v1, "/keys", h.keys)
	get(v1, "/status", h.status)
	get(v1, "/openapi.json", h.openapi)
	get(e, logCheckpointPath, h.logCheckpoint)
	get(e, logTilePath, h.logTile)
	registerOpenTimestamps(e, cfg, acc)
	registerTSA(e, cfg, acc, m)
	if cfg.Pages != nil {
		// Each page gets its own route, so that unknown paths (under /v1 too) reach the
		// JSON error handler instead of the file server's plain-text 404.
		files := pageHeaders(echo.WrapHandler(http.FileServerFS(cfg.Pages)))
		get(e, "/", files)
		_ = fs.WalkDir(cfg.Pages, ".", func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				get(e, "/"+path, files)
			}
			return err
		})
	}
	m.routes = make(map[string]bool)
	for _, r := range e.Routes() {
		m.routes[r.Path] = true
	}
	return e
}

// router is where routes are registered: the Echo instance or a group of it.
type router interface {
	GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	HEAD(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// get registers h for GET and HEAD on path. A HEAD request is answered as GET is, headers
// and status alike; net/http leaves the body out.
func get(r router, path string, h echo.HandlerFunc) {
	r.GET(path, h)
	r.HEAD(path, h)
}

// wholeSegments answers 404 for a path whose named parameters take more than one segment:
// Echo gives a route's last parameter the rest of the path, so /v1/timestamps/X/extra would
// otherwise be a lookup of the digest "X/extra". A wildcard (*) takes the rest on purpose.
func wholeSegments(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		names := c.ParamNames()
		for i, v := range c.ParamValues() {
			if i < len(names) && names[i] == "*" {
				continue
			}
			if strings.Contains(v, "/") {
				return apiError(codeNotFound, "no such endpoint")
			}
		}
		return next(c)
	}
}

// pageHeaders adds to the answers of the pages the headers that forbid framing them (a
// meta element cannot say frame-ancestors): no other site can show them in a frame to
// have a visitor click in them.
func pageHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		return next(c)
	}
}

// shutdownContext returns a context that is cancelled when done is closed.
func shutdownContext(done <-chan struct{}) context.Context {
	if done == nil {
		return context.Background()
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-done
		cancel()
	}()
	return ctx
}

type handlers struct {
	svc      *service.Service
	cfg      Config
	probe    *nodeProbe
	metrics  *metrics
	acc      *access
	batches  *inFlight
	shutdown context.Context // cancelled when the server shuts down
}

// submitRequest is the body of POST /v1/timestamps.
type submitRequest struct {
	Digest   string `json:"digest"`
	Callback string `json:"callback"`
}

func (h *handlers) submit(c echo.Context) error {
	body, err := readBody(c, MaxBodySize)
	if err != nil {
		return err
	}
	req, err := parseSubmitRequest(body)
	if err != nil {
		return err
	}
	d, err := notary.ParseDigest(req.Digest)
	if err != nil {
		return apiError(codeBadDigest, "%v", err)
	}
	callback, err := h.callback(c, req.Callback)
	if err != nil {
		return err
	}
	refund, err := h.acc.digests(c, 1)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ts, err := h.svc.Submit(ctx, d)
	if err != nil {
		giveBackIf(err, refund)
		return err
	}
	h.metrics.digests.WithLabelValues("single").Inc()
	if err := h.register(c, callback, []int64{ts.Entry.Index}, false); err != nil {
		return err
	}
	return answerTimestamp(c, ts)
}

// callback returns the callback of a submission: the URL it names, which must be an
// acceptable URL, else its API key's, else none (a zero Callback). It refuses the request
// if the callback's owner (its API key, or its client address) has as many pending
// webhooks as it may, before anything is logged.
func (h *handlers) callback(c echo.Context, named string) (webhook.Callback, error) {
	var cb webhook.Callback
	switch {
	case named != "" && h.cfg.Webhooks == nil:
		return cb, apiError(codeBadCallback, "this server does not deliver callbacks")
	case named != "":
		if err := h.cfg.Webhooks.CheckURL(named); err != nil {
			return cb, apiError(codeBadCallback, "%v", err)
		}
		cb.URL = named
	case h.cfg.Webhooks != nil:
		if k := callerOf(c); k != nil {
			cb.URL = k.webhook
		}
	}
	if cb.URL == "" {
		return cb, nil
	}
	var limit int
	cb.Owner, limit = h.webhookOwner(c)
	if limit > 0 {
		n, err := h.cfg.Webhooks.Pending(c.Request().Context(), cb.Owner)
		if err != nil {
			return cb, err
		}
		if n >= int64(limit) {
			return cb, tooManyWebhooks(c, limit, "nothing was logged")
		}
	}
	return cb, nil
}

// webhookOwner returns the owner of the request's webhooks, its API key or else its client
// address (an IPv4 address or an IPv6 /64), and its cap of pending webhooks.
func (h *handlers) webhookOwner(c echo.Context) (string, int) {
	if k := callerOf(c); k != nil {
		return "key:" + k.name, h.cfg.Limits.WebhooksPerKey
	}
	return "ip:" + clientNetwork(c.RealIP()), h.cfg.Limits.WebhooksPerAddress
}

// register registers cb, if it has a URL, for entries, which are logged: a batch's in one
// webhook. An owner that reached its cap since callback looked is refused.
func (h *handlers) register(c echo.Context, cb webhook.Callback, entries []int64, batch bool) error {
	if cb.URL == "" {
		return nil
	}
	cb.Entries, cb.Batch = entries, batch
	_, limit := h.webhookOwner(c)
	err := h.cfg.Webhooks.Register(c.Request().Context(), cb, limit)
	if errors.Is(err, webhook.ErrOwnerFull) {
		return tooManyWebhooks(c, limit, "the digests were logged; submit them again later to register the callback")
	}
	return err
}

// webhookRetry is the Retry-After of too_many_webhooks: pending webhooks leave the queue as
// the proofs complete, with each anchor.
const webhookRetry = "60"

func tooManyWebhooks(c echo.Context, limit int, logged string) error {
	c.Response().Header().Set(echo.HeaderRetryAfter, webhookRetry)
	return apiError(codeTooManyWebhooks, "%d webhooks of this client are waiting for their proofs or their delivery, "+
		"as many as it may have; %s. Try again after Retry-After seconds, or submit without a callback and look the proofs up", limit, logged)
}

func (h *handlers) lookup(c echo.Context) error {
	d, err := notary.ParseDigest(c.Param("digest"))
	if err != nil {
		return apiError(codeBadDigest, "%v", err)
	}
	wait, since, err := waitParams(c)
	if err != nil {
		return err
	}
	e, ok, err := h.svc.EntryOf(c.Request().Context(), d)
	if err != nil {
		return err
	}
	if !ok {
		return apiError(codeNotFound, "digest %s was never submitted here", d)
	}
	return h.timestamp(c, e.Index, &e, wait, since)
}

// proof is GET /v1/timestamps/{digest}/proof: the proof document alone, as notary stamp
// saves it (FILE.proof.json) and every verifier reads it: pending at first, complete once
// the digest's status is confirmed.
func (h *handlers) proof(c echo.Context) error {
	d, err := notary.ParseDigest(c.Param("digest"))
	if err != nil {
		return apiError(codeBadDigest, "%v", err)
	}
	ctx := c.Request().Context()
	e, ok, err := h.svc.EntryOf(ctx, d)
	if err != nil {
		return err
	}
	if !ok {
		return apiError(codeNotFound, "digest %s was never submitted here", d)
	}
	ts, err := h.svc.TimestampOf(ctx, e)
	if err != nil {
		return err
	}
	if ts.Proof == nil {
		c.Response().Header().Set("Retry-After", "1")
		return apiError(codeBusy, "no signed checkpoint includes digest %s yet; ask again in a second", d)
	}
	data, err := notary.MarshalProof(ts.Proof)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+d.String()+`.proof.json"`)
	return c.JSONBlob(http.StatusOK, data)
}

func (h *handlers) entry(c echo.Context) error {
	index, err := parseCount(c.Param("index"))
	if err != nil {
		return apiError(codeBadRequest, "the index %q is not a non-negative decimal number", c.Param("index"))
	}
	wait, since, err := waitParams(c)
	if err != nil {
		return err
	}
	if size := h.svc.Size(); index >= size {
		return apiError(codeNotFound, "entry %d is beyond the log, which has %d entries", index, size)
	}
	return h.timestamp(c, index, nil, wait, since)
}

// timestamp answers the timestamp of the entry at index, after waiting up to wait for its
// status to differ from since ("" for its status now). e is the entry if the caller has
// read it, else nil.
func (h *handlers) timestamp(c echo.Context, index int64, e *notary.Entry, wait time.Duration, since service.Status) error {
	ctx := c.Request().Context()
	if wait > 0 {
		if since == "" {
			st, err := h.svc.StatusAt(ctx, index)
			if err != nil {
				return err
			}
			since = st
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		stop := context.AfterFunc(h.shutdown, cancel)
		_, err := h.svc.WaitStatus(wctx, index, since)
		stop()
		cancel()
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err // the client is gone
		}
	}
	var ts *service.Timestamp
	var err error
	if e != nil {
		ts, err = h.svc.TimestampOf(ctx, *e)
	} else {
		ts, err = h.svc.TimestampAt(ctx, index)
	}
	if err != nil {
		return err
	}
	return answerTimestamp(c, ts)
}

// waitParams reads ?wait=SECONDS (0 to 60) and ?since=STATUS.
func waitParams(c echo.Context) (time.Duration, service.Status, error) {
	var wait time.Duration
	if s := c.QueryParam("wait"); s != "" {
		n, err := parseCount(s)
		if err != nil || n > int64(MaxWait/time.Second) {
			return 0, "", apiError(codeBadRequest, "wait must be a whole number of seconds from 0 to %d, not %q", int64(MaxWait/time.Second), s)
		}
		wait = time.Duration(n) * time.Second
	}
	since := service.Status(c.QueryParam("since"))
	switch since {
	case "", service.StatusPending, service.StatusAnchored, service.StatusConfirmed:
	default:
		return 0, "", apiError(codeBadRequest, "since must be pending, anchored or confirmed, not %q", since)
	}
	return wait, since, nil
}

func (h *handlers) checkpoint(c echo.Context) error {
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", h.publishedCheckpoint().Note)
}

// parseCount parses a non-negative decimal integer written canonically: digits only, no
// sign, no leading zero.
func parseCount(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, errors.New("not a canonical non-negative integer")
	}
	return n, nil
}

// readBody reads a request body of at most limit bytes, sent as application/json.
func readBody(c echo.Context, limit int64) ([]byte, error) {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return nil, apiError(codeUnsupportedMedia,
			"send the body as application/json (Content-Type was %q)", req.Header.Get(echo.HeaderContentType))
	}
	if req.ContentLength > limit {
		return nil, apiError(codeBodyTooLarge, "the body is larger than %d bytes", limit)
	}
	size := int64(512)
	if req.ContentLength > 0 {
		size = req.ContentLength + 1 // room to see the end of the body
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := buf.ReadFrom(io.LimitReader(req.Body, limit+1)); err != nil {
		return nil, apiError(codeBadBody, "reading the body: %v", err)
	}
	if int64(buf.Len()) > limit {
		return nil, apiError(codeBodyTooLarge, "the body is larger than %d bytes", limit)
	}
	body := buf.Bytes()
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, apiError(codeBadJSON, "the body is empty; send a JSON object")
	}
	return body, nil
}
