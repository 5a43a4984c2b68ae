// Package calendar serves the OpenTimestamps calendar protocol for a notary service
// (docs/opentimestamps.md), and turns notary proofs into .ots files:
//
//	POST /digest                    log a digest, answer a pending timestamp
//	GET  /timestamp/{hex}           the timestamp of a digest once its proof is complete
//
// The endpoints answer as the reference calendar (opentimestamps-server) does, with its
// statuses, plain-text reasons and cache headers, not with the JSON errors of /v1. The api
// package registers them, with its authentication and rate limits in front.
package calendar

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/ots"
	"github.com/notary-dev/notary/service"
)

// MaxDigestLen is the most bytes POST /digest takes, as in the reference calendar.
const MaxDigestLen = 64

// The reference calendar's answers.
const (
	calendarBadHex   = "commitment must be hex-encoded bytes"
	calendarNotFound = "Not found"
	calendarPending  = "Pending confirmation in Bitcoin blockchain"
	calendarTooLong  = "digest too long"
	calendarBadLen   = "invalid Content-Length"
	// calendarAnchored follows the reference's "Timestamped by transaction %s; waiting for
	// %d confirmations"; the service does not know its final depth, so it says how many
	// confirmations the transaction has.
	calendarAnchored = "Timestamped by transaction %s; waiting for more confirmations, %d so far"
)

const (
	mimeBinary = "application/octet-stream"
	// MIMEText is the media type of every answer of the calendar but a timestamp.
	MIMEText = "text/plain"
)

// The routes of the calendar protocol.
const (
	SubmitPath    = "/digest"
	TimestampPath = "/timestamp/:commitment"
)

// Route reports whether route is one of the calendar protocol's, whose every answer is
// plain text.
func Route(route string) bool {
	return route == SubmitPath || route == TimestampPath
}

// Budget takes n digests from the budget of the request's client. It returns an error to
// answer (a refusal) when the budget has not that many left; else done, to be called with
// the outcome of the submission, which gives the digests back if nothing was logged.
type Budget func(ec echo.Context, n int) (done func(error), err error)

// Calendar serves the calendar protocol for a service.
type Calendar struct {
	svc    *service.Service
	log    *slog.Logger
	budget Budget
	// uri is the calendar URI of the service's public URL, once learned (see URI).
	uri atomic.Pointer[string]
}

// New returns the calendar of svc. budget, if not nil, is charged one digest per
// submission; log, if not nil, receives the unexpected errors.
func New(svc *service.Service, log *slog.Logger, budget Budget) *Calendar {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if budget == nil {
		budget = func(echo.Context, int) (func(error), error) { return func(error) {}, nil }
	}
	return &Calendar{svc: svc, log: log, budget: budget}
}

// Submit is POST /digest: the body (at most 64 bytes) is logged as a digest if it has 32
// bytes, else its SHA-256 is; the answer is the timestamp of the body, through a sha256
// operation in the second case, ending in a pending attestation naming this calendar.
func (c *Calendar) Submit(ec echo.Context) error {
	req := ec.Request()
	switch {
	case req.ContentLength < 0:
		return plain(ec, http.StatusBadRequest, calendarBadLen)
	case req.ContentLength > MaxDigestLen:
		return plain(ec, http.StatusBadRequest, calendarTooLong)
	}
	body := make([]byte, req.ContentLength)
	if _, err := io.ReadFull(req.Body, body); err != nil {
		return plain(ec, http.StatusBadRequest, calendarBadLen)
	}
	uri, err := c.URI(ec)
	if err != nil {
		return c.failure(ec, err)
	}
	var (
		d   notary.Digest
		ops []merkle.Op
	)
	if len(body) == len(d) {
		d = notary.Digest(body)
	} else {
		ops = []merkle.Op{{Code: merkle.OpSHA256}}
		d = sha256.Sum256(body)
	}
	done, err := c.budget(ec, 1)
	if err != nil {
		return err // the refusal, which the API answers in plain text on calendar routes
	}
	_, err = c.svc.Submit(req.Context(), d)
	done(err)
	if err != nil {
		return c.failure(ec, err)
	}
	t, err := ots.NewTimestamp(body, ops, ots.Pending{URI: uri})
	if err != nil {
		return c.failure(ec, err)
	}
	return c.answer(ec, t)
}

// Timestamp is GET /timestamp/{hex}: the timestamp from a logged digest to its Bitcoin
// attestation, once the digest's proof is complete; 404 with the reason before that.
func (c *Calendar) Timestamp(ec echo.Context) error {
	h := ec.Response().Header()
	commitment, err := hex.DecodeString(ec.Param("commitment"))
	if err != nil {
		h.Set("Cache-Control", "public, max-age=31536000") // a malformed commitment stays malformed
		return plain(ec, http.StatusBadRequest, calendarBadHex)
	}
	h.Set("Cache-Control", "public, max-age=60")
	if len(commitment) != len(notary.Digest{}) {
		return plain(ec, http.StatusNotFound, calendarNotFound)
	}
	ts, err := c.svc.Lookup(ec.Request().Context(), notary.Digest(commitment))
	if errors.Is(err, service.ErrNotFound) {
		return plain(ec, http.StatusNotFound, calendarNotFound)
	}
	if err != nil {
		return c.failure(ec, err)
	}
	if ts.Status != service.StatusConfirmed || ts.Proof == nil || !ts.Proof.Complete() {
		reason := calendarPending
		if a := ts.Anchor; a != nil && (a.Status == service.AnchorConfirmed || a.Status == service.AnchorFinal) {
			reason = fmt.Sprintf(calendarAnchored, a.TxID, a.Confirmations)
		}
		return plain(ec, http.StatusNotFound, reason)
	}
	f, err := ProofFile(ts.Proof, "")
	if err != nil {
		return c.failure(ec, err)
	}
	// A final anchor does not change: the answer can be cached for good.
	h.Set("Cache-Control", "public, max-age=31536000")
	return c.answer(ec, f.Timestamp)
}

// ProofFile returns the .ots file of a notary proof; the file hash is the digest, the
// document's SHA-256. A complete proof gives every operation from the digest to the block
// header's Merkle root ([notary.Proof.Ops], which verifies the proof first) and a Bitcoin
// attestation at the block's height. A pending one gives a pending attestation on the
// digest itself naming the calendar at calendarURL, or, if that is empty, at the service
// the proof names: that calendar answers GET /timestamp/{digest} once the proof is complete.
func ProofFile(p *notary.Proof, calendarURL string) (*ots.File, error) {
	if p.Complete() {
		ops, err := p.Ops()
		if err != nil {
			return nil, err
		}
		if p.Bitcoin.Height < 0 {
			return nil, fmt.Errorf("calendar: negative block height %d", p.Bitcoin.Height)
		}
		return ots.NewFile(merkle.Hash(p.Digest), ops, ots.Bitcoin{Height: uint64(p.Bitcoin.Height)})
	}
	if calendarURL == "" {
		calendarURL = p.Service
	}
	if calendarURL == "" {
		return nil, errors.New("calendar: the pending proof names no service to complete it")
	}
	uri, err := ServiceURI(calendarURL)
	if err != nil {
		return nil, err
	}
	return ots.NewFile(merkle.Hash(p.Digest), nil, ots.Pending{URI: uri})
}

// CalendarURI returns the URI a pending attestation gives for the notary at base, an
// http(s) URL: base itself, without a trailing slash if it has no path and with one if it
// has, so that clients resolving "timestamp/…" against it stay under the path. It returns
// an error for a URL OpenTimestamps cannot name (a query, a user, an IPv6 literal…).
func ServiceURI(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("calendar: the service URL %q is not an http(s) URL", base)
	}
	uri := strings.TrimRight(base, "/")
	if strings.Trim(u.Path, "/") != "" {
		uri += "/"
	}
	if err := ots.CheckURI(uri); err != nil {
		return "", fmt.Errorf("calendar: the service URL cannot be a calendar URI: %w", err)
	}
	return uri, nil
}

// URI returns the calendar URI of this service. service.Service does not export
// its public URL, but every proof carries it as its service; until the first checkpoint
// there is none, and the URL the request came to stands in.
func (c *Calendar) URI(ec echo.Context) (string, error) {
	if uri := c.uri.Load(); uri != nil {
		return *uri, nil
	}
	if ts, err := c.svc.TimestampAt(ec.Request().Context(), 0); err == nil && ts.Proof != nil && ts.Proof.Service != "" {
		uri, err := ServiceURI(ts.Proof.Service)
		if err != nil {
			return "", err
		}
		c.uri.Store(&uri)
		return uri, nil
	}
	return ServiceURI(ec.Scheme() + "://" + ec.Request().Host)
}

// failure answers an unexpected error in plain text, as the calendar does.
func (c *Calendar) failure(ec echo.Context, err error) error {
	if errors.Is(err, context.Canceled) && ec.Request().Context().Err() != nil {
		return err // the client hung up: no one reads an answer, and the API counts it apart
	}
	ec.Response().Header().Del("Cache-Control")
	switch {
	case errors.Is(err, service.ErrClosed):
		return plain(ec, http.StatusServiceUnavailable, "the service is shutting down; try again shortly")
	case errors.Is(err, service.ErrPushback), errors.Is(err, service.ErrDeposed):
		ec.Response().Header().Set("Retry-After", "1")
		return plain(ec, http.StatusServiceUnavailable, "the service cannot take this digest right now; nothing was logged, try again shortly")
	}
	c.log.Error("calendar request failed", "method", ec.Request().Method, "path", ec.Request().URL.Path, "err", err)
	return plain(ec, http.StatusInternalServerError, "the service failed to handle the request; try again")
}

func plain(ec echo.Context, status int, text string) error {
	return ec.Blob(status, MIMEText, []byte(text))
}

// answer sends a timestamp without header, as calendars do.
func (c *Calendar) answer(ec echo.Context, t *ots.Timestamp) error {
	data, err := t.MarshalBinary()
	if err != nil {
		return c.failure(ec, err)
	}
	return ec.Blob(http.StatusOK, mimeBinary, data)
}
