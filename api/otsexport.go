package api

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/notary-dev/notary/calendar"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/ots"
	"github.com/notary-dev/notary/service"
)

// The OpenTimestamps side of the API (docs/opentimestamps.md): the calendar protocol of
// package calendar, and the .ots form of /v1/timestamps:
//
//	POST /digest                      log a digest, answer a pending timestamp (calendar protocol)
//	GET  /timestamp/{hex}             the timestamp of a digest once its proof is complete (calendar protocol)
//	GET  /v1/timestamps/{digest}.ots  the .ots file of a digest's proof, pending or complete;
//	                                  also /v1/timestamps/{digest} with Accept: application/vnd.opentimestamps.v1

// exportPath is the route whose .ots form the export middleware serves.
const exportPath = "/v1/timestamps/:digest"

// registerOpenTimestamps adds the calendar endpoints, their digests counted against the
// client's budget, and the .ots export of /v1/timestamps.
func registerOpenTimestamps(e *echo.Echo, cfg Config, acc *access) {
	cal := calendar.New(cfg.Service, cfg.Logger, func(ec echo.Context, n int) (func(error), error) {
		refund, err := acc.digests(ec, n)
		if err != nil {
			return nil, err
		}
		return func(err error) { giveBackIf(err, refund) }, nil
	})
	e.POST(calendar.SubmitPath, cal.Submit)
	get(e, calendar.TimestampPath, cal.Timestamp)
	e.Use((&otsExport{svc: cfg.Service, cal: cal}).middleware)
}

// otsExport serves the .ots form of /v1/timestamps/{digest}.
type otsExport struct {
	svc *service.Service
	cal *calendar.Calendar // names the calendar in pending files
}

// middleware serves GET /v1/timestamps/{digest}.ots, and /v1/timestamps/{digest} for a client
// that accepts application/vnd.opentimestamps.v1, as an .ots file; errors are the JSON
// errors of /v1.
func (c *otsExport) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		req := ec.Request()
		if ec.Path() != exportPath || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
			return next(ec)
		}
		ec.Response().Header().Add("Vary", "Accept")
		param, suffixed := strings.CutSuffix(ec.Param("digest"), ".ots")
		if !suffixed && !acceptsOTS(req.Header.Values("Accept")) {
			return next(ec)
		}
		d, err := notary.ParseDigest(param)
		if err != nil {
			return newError(http.StatusBadRequest, "bad_digest", "%v", err)
		}
		ts, err := c.svc.Lookup(req.Context(), d)
		if errors.Is(err, service.ErrNotFound) {
			return newError(http.StatusNotFound, "not_found", "digest %s was never submitted here", d)
		}
		if err != nil {
			return err
		}
		var f *ots.File
		if ts.Proof != nil && ts.Proof.Complete() {
			f, err = calendar.ProofFile(ts.Proof, "")
		} else {
			var uri string
			if uri, err = c.cal.URI(ec); err == nil {
				f, err = ots.NewFile(merkle.Hash(d), nil, ots.Pending{URI: uri})
			}
		}
		if err != nil {
			return err
		}
		data, err := f.MarshalBinary()
		if err != nil {
			return err
		}
		ec.Response().Header().Set("Content-Disposition", `attachment; filename="`+d.String()+`.ots"`)
		return ec.Blob(http.StatusOK, ots.MediaType, data)
	}
}

// acceptsOTS reports whether Accept header values name the OpenTimestamps media type
// with a quality above zero.
func acceptsOTS(values []string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != ots.MediaType {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}
