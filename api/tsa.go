package api

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/tsa"
)

// The RFC 3161 time-stamp authority (docs/rfc3161.md):
//
//	POST /tsa            a TimeStampReq (application/timestamp-query) in, a TimeStampResp
//	                     (application/timestamp-reply) out
//	GET  /tsa/certchain  the TSA's certificate and its issuers, PEM
//
// Every answer of POST /tsa is a DER TimeStampResp, the refusals of the API's middleware
// (rate limits, methods) included: a rejection with the failure information RFC 3161
// names and the reason as its status string.

// The media types of RFC 3161 (section 4) and of a PEM certificate chain (RFC 8555).
const (
	mimeTimestampQuery = "application/timestamp-query"
	mimeTimestampReply = "application/timestamp-reply"
	mimePEMChain       = "application/pem-certificate-chain"
)

const (
	tsaPath      = "/tsa"
	tsaChainPath = "/tsa/certchain"
)

// tsaRoute reports whether route is answered with time-stamp responses.
func tsaRoute(route string) bool { return route == tsaPath }

// registerTSA adds the TSA's routes. Without a signer they answer that this server
// issues no tokens.
func registerTSA(e *echo.Echo, cfg Config, acc *access, m *metrics) {
	t := &timeStamper{svc: cfg.Service, signer: cfg.TSA, log: cfg.Logger, acc: acc, metrics: m}
	e.POST(tsaPath, t.stamp)
	get(e, tsaChainPath, t.chain)
}

type timeStamper struct {
	svc     *service.Service
	signer  *tsa.Signer
	log     *slog.Logger
	acc     *access
	metrics *metrics
}

// stamp is POST /tsa. The request's imprint is logged as a notary entry
// (tsa.EntryDigest) before the token is signed: the token's serial number holds the
// entry's index (tsa.Serial) and its genTime is the entry's time.
func (t *timeStamper) stamp(c echo.Context) error {
	if t.signer == nil {
		return reject(c, http.StatusNotFound, tsa.FailBadRequest, "this server issues no time-stamp tokens")
	}
	req := c.Request()
	if mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType)); err != nil || mt != mimeTimestampQuery {
		return reject(c, http.StatusUnsupportedMediaType, tsa.FailBadRequest,
			fmt.Sprintf("send the request as %s (Content-Type was %q)", mimeTimestampQuery, req.Header.Get(echo.HeaderContentType)))
	}
	tooLarge := fmt.Sprintf("the request is larger than %d bytes; a TimeStampReq holds a digest, a nonce and a policy", tsa.MaxRequestSize)
	if req.ContentLength > tsa.MaxRequestSize {
		return reject(c, http.StatusRequestEntityTooLarge, tsa.FailBadRequest, tooLarge)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, tsa.MaxRequestSize+1))
	if err != nil {
		return reject(c, http.StatusBadRequest, tsa.FailBadRequest, "reading the request: "+err.Error())
	}
	if len(body) > tsa.MaxRequestSize {
		return reject(c, http.StatusRequestEntityTooLarge, tsa.FailBadRequest, tooLarge)
	}
	r, err := tsa.ParseRequest(body)
	if err == nil {
		err = t.signer.CheckPolicy(r)
	}
	var re *tsa.RequestError
	if errors.As(err, &re) {
		return reject(c, http.StatusOK, re.Fail, re.Msg)
	}
	if err != nil {
		return err
	}
	refund, err := t.acc.digests(c, 1)
	if err != nil {
		return err
	}
	ts, err := t.svc.Submit(req.Context(), notary.Digest(tsa.EntryDigest(r.Hash, r.HashedMessage)))
	if err != nil {
		giveBackIf(err, refund)
		return err
	}
	t.metrics.digests.WithLabelValues("tsa").Inc()
	var low [8]byte
	if _, err := rand.Read(low[:]); err != nil {
		return err
	}
	resp, err := t.signer.Respond(r, tsa.Serial(ts.Entry.Index, binary.BigEndian.Uint64(low[:])), ts.Entry.Time)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, mimeTimestampReply, resp)
}

// chain is GET /tsa/certchain: the TSA's certificate, then its issuers.
func (t *timeStamper) chain(c echo.Context) error {
	if t.signer == nil {
		return apiError(codeNotFound, "this server issues no time-stamp tokens")
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, mimePEMChain, tsa.EncodeCertificates(t.signer.Chain()...))
}

// reject answers a TimeStampResp that refuses the request.
func reject(c echo.Context, status int, fail tsa.FailInfo, msg string) error {
	return c.Blob(status, mimeTimestampReply, tsa.Reject(fail, msg))
}

// writeReject answers a TimeStampResp that refuses the request, with systemFailure,
// outside Echo (Forward).
func writeReject(w http.ResponseWriter, status int, msg string) {
	w.Header().Set(echo.HeaderContentType, mimeTimestampReply)
	w.WriteHeader(status)
	w.Write(tsa.Reject(tsa.FailSystemFailure, msg))
}

// tsaFailure is the failure information of an API error answered on the TSA's route.
func tsaFailure(status int) tsa.FailInfo {
	if status >= 500 {
		return tsa.FailSystemFailure
	}
	return tsa.FailBadRequest
}
