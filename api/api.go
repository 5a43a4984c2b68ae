// Package api serves notary's REST API (under /v1) and its web pages with Echo.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/notary-dev/notary/notary"
)

// MaxBodySize caps request bodies.
const MaxBodySize = 64 << 10

// Config configures the API.
type Config struct {
	Service *notary.Service
	// Pages, if set, is served at / (the web pages).
	Pages  fs.FS
	Logger *slog.Logger
}

// New returns the HTTP handler of the API and the pages.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(cfg.Logger)
	h := &handlers{svc: cfg.Service}
	v1 := e.Group("/v1")
	v1.POST("/timestamps", h.submit)
	v1.GET("/timestamps/:digest", h.lookup)
	v1.GET("/checkpoint", h.checkpoint)
	registerOpenTimestamps(e, cfg)
	if cfg.Pages != nil {
		// Each page gets its own route, so that unknown paths (under /v1 too) reach the
		// JSON error handler instead of the file server's plain-text 404.
		files := echo.WrapHandler(http.FileServerFS(cfg.Pages))
		e.GET("/", files)
		_ = fs.WalkDir(cfg.Pages, ".", func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				e.GET("/"+path, files)
			}
			return err
		})
	}
	return e
}

type handlers struct {
	svc *notary.Service
}

// submitRequest is the body of POST /v1/timestamps.
type submitRequest struct {
	Digest string `json:"digest"`
}

func (h *handlers) submit(c echo.Context) error {
	var req submitRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	d, err := notary.ParseDigest(req.Digest)
	if err != nil {
		return newError(http.StatusBadRequest, "bad_digest", "%v", err)
	}
	r, err := h.svc.Submit(c.Request().Context(), d)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, receiptJSON(r, h.svc.VerifierKey()))
}

func (h *handlers) lookup(c echo.Context) error {
	d, err := notary.ParseDigest(c.Param("digest"))
	if err != nil {
		return newError(http.StatusBadRequest, "bad_digest", "%v", err)
	}
	ts, err := h.svc.Lookup(c.Request().Context(), d)
	if errors.Is(err, notary.ErrNotFound) {
		return newError(http.StatusNotFound, "not_found", "digest %s was never submitted here", d)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, timestampJSON(ts, h.svc.VerifierKey()))
}

func (h *handlers) checkpoint(c echo.Context) error {
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", h.svc.LatestCheckpoint().Note)
}

// decodeJSON reads a JSON request body strictly: the right content type, at most
// MaxBodySize bytes, one object, no unknown fields.
func decodeJSON(c echo.Context, v any) error {
	req := c.Request()
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return newError(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send the body as application/json (Content-Type was %q)", req.Header.Get(echo.HeaderContentType))
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBodySize+1))
	if err != nil {
		return newError(http.StatusBadRequest, "bad_body", "reading the body: %v", err)
	}
	if len(body) > MaxBodySize {
		return newError(http.StatusRequestEntityTooLarge, "body_too_large", "the body is larger than %d bytes", MaxBodySize)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return newError(http.StatusBadRequest, "bad_json", "the body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return newError(http.StatusBadRequest, "bad_json", "the body is not the expected JSON: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return newError(http.StatusBadRequest, "bad_json", "the body has data after the JSON object")
	}
	return nil
}

// jsonProblem turns a decoding error into words for the client.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return "the body must be a JSON object"
		}
		return fmt.Sprintf("field %q must be a %s", typeErr.Field, typeErr.Type)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}
