package api

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/tiles"
)

// The log as C2SP tlog-tiles, under the prefix /log: the published checkpoint, the hash
// tiles of height 8 and, if the operator publishes them, the entry bundles. Every tile
// served lies within the published checkpoint, so a client that has verified it can
// check every tile against its root.
const (
	logCheckpointPath = "/log/checkpoint"
	logTilePath       = "/log/tile/*"
)

// Cache lifetimes of the log's resources. A full tile never changes. A partial tile
// never changes either, but a client should move on to the full tile once it exists, and
// the checkpoint changes every second or so.
const (
	cacheFullTile    = "public, max-age=31536000, immutable"
	cachePartialTile = "public, max-age=60"
	cacheCheckpoint  = "public, max-age=1"
)

// publishedCheckpoint is the checkpoint the log publishes, the one place that says which:
// /v1/checkpoint and /log/checkpoint serve it, and it bounds the tiles served. With
// witnesses it carries their cosignatures once a quorum cosigned it (see
// service.PublishedCheckpoint).
func (h *handlers) publishedCheckpoint() notary.Checkpoint {
	return h.svc.PublishedCheckpoint()
}

func (h *handlers) logCheckpoint(c echo.Context) error {
	hdr := c.Response().Header()
	hdr.Set("Cache-Control", "no-store")
	cp := h.publishedCheckpoint()
	if len(cp.Note) == 0 {
		return apiError(codeNotFound, "the log has published no checkpoint yet; try again in a second")
	}
	hdr.Set("Cache-Control", cacheCheckpoint)
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", cp.Note)
}

func (h *handlers) logTile(c echo.Context) error {
	hdr := c.Response().Header()
	hdr.Set("Cache-Control", "no-store") // errors may change once the log grows
	t, err := tiles.ParsePath("tile/" + c.Param("*"))
	if errors.Is(err, tiles.ErrTooFar) {
		return apiError(codeNotFound, "no log is large enough to have that tile")
	}
	if err != nil {
		return apiError(codeBadRequest, "%v: a tile path is tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>] (see c2sp.org/tlog-tiles)", err)
	}
	if t.Level == tiles.EntriesLevel && !h.cfg.TileEntries {
		return apiError(codeNotFound, "this log does not publish entry bundles (its operator has not enabled them); use the hash tiles, or look entries up under /v1")
	}
	cp := h.publishedCheckpoint()
	if !t.Within(cp.Size) {
		return apiError(codeNotFound, "%s is beyond the published checkpoint, of size %d: fetch /log/checkpoint and the tiles it needs", t.Path(), cp.Size)
	}
	var data []byte
	if t.Level == tiles.EntriesLevel {
		entries, err := h.svc.Entries(c.Request().Context(), t.Index*tiles.FullWidth, t.Width)
		if err != nil {
			return err
		}
		data = make([]byte, 0, len(entries)*tiles.BundleEntrySize)
		for _, e := range entries {
			data = tiles.AppendBundleEntry(data, e)
		}
	} else if data, err = tiles.ReadHashTile(t, service.HashReader(c.Request().Context(), h.svc)); err != nil {
		return err
	}
	if t.Full() {
		hdr.Set("Cache-Control", cacheFullTile)
	} else {
		hdr.Set("Cache-Control", cachePartialTile)
	}
	return c.Blob(http.StatusOK, "application/octet-stream", data)
}
