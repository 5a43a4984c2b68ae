// Package tilestest reads a notary log's C2SP tlog-tiles over HTTP as an outside client
// would, with the Go checksum database's tlog package (golang.org/x/mod/sumdb/tlog) and
// its own path encoding rather than notary's: the tests of the server, the exporter and the
// monitor use it to check what notary publishes against an independent reader.
package tilestest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Height is the height of the tiles of tlog-tiles.
const Height = 8

// Reader is a tlog.TileReader that fetches tiles from a tlog-tiles prefix over HTTP.
type Reader struct {
	Prefix string // the log's prefix: http://HOST/log
	Client *http.Client
}

// Height returns 8.
func (r *Reader) Height() int { return Height }

// Path returns the path of t under a tlog-tiles prefix, from the sumdb's own path: without
// its height element, and with "entries" for its "data" level.
func Path(t tlog.Tile) string {
	p := strings.Replace(t.Path(), "tile/"+strconv.Itoa(Height)+"/", "tile/", 1)
	return strings.Replace(p, "tile/data/", "tile/entries/", 1)
}

// ReadTiles fetches each tile.
func (r *Reader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, status, err := Get(r.Client, r.Prefix+"/"+Path(t))
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("GET %s: status %d: %s", Path(t), status, b)
		}
		out[i] = b
	}
	return out, nil
}

// SaveTiles does nothing: the reader keeps no cache.
func (r *Reader) SaveTiles([]tlog.Tile, [][]byte) {}

// Get fetches url and returns its body and status.
func Get(c *http.Client, url string) ([]byte, int, error) {
	if c == nil {
		c = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.StatusCode, err
}

// OpenCheckpoint opens a signed checkpoint with the log's verifier key and returns its
// tree, parsing the C2SP tlog-checkpoint body (origin, size, base64 root) itself.
func OpenCheckpoint(raw []byte, vkey string) (tlog.Tree, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return tlog.Tree{}, err
	}
	n, err := note.Open(raw, note.VerifierList(v))
	if err != nil {
		return tlog.Tree{}, err
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return tlog.Tree{}, fmt.Errorf("checkpoint %q has fewer than three lines", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("checkpoint size %q: %v", lines[1], err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return tlog.Tree{}, fmt.Errorf("checkpoint root %q: %v", lines[2], err)
	}
	return tlog.Tree{N: size, Hash: tlog.Hash(root)}, nil
}

// CheckLog fetches the log's checkpoint from prefix, opens it with vkey and, through the
// tiles alone, recomputes its root and checks the inclusion proof of every entry it covers
// of those given (the canonical bytes of entries 0, 1, …). It returns the tree.
func CheckLog(t testing.TB, prefix, vkey string, entries [][]byte) tlog.Tree {
	t.Helper()
	raw, status, err := Get(nil, prefix+"/checkpoint")
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET %s/checkpoint: status %d, %v: %s", prefix, status, err, raw)
	}
	tree, err := OpenCheckpoint(raw, vkey)
	if err != nil {
		t.Fatalf("the checkpoint does not open with the log's key: %v\n%s", err, raw)
	}
	r := &Reader{Prefix: prefix}
	hr := tlog.TileHashReader(tree, r)
	root, err := tlog.TreeHash(tree.N, hr)
	if err != nil {
		t.Fatalf("the tiles of size %d: %v", tree.N, err)
	}
	if root != tree.Hash {
		t.Fatalf("the tiles give root %v at size %d, the checkpoint %v", root, tree.N, tree.Hash)
	}
	for i, e := range entries {
		if int64(i) >= tree.N {
			break
		}
		p, err := tlog.ProveRecord(tree.N, int64(i), hr)
		if err != nil {
			t.Fatalf("proving entry %d in %d from the tiles: %v", i, tree.N, err)
		}
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, int64(i), tlog.RecordHash(e)); err != nil {
			t.Fatalf("entry %d is not in the checkpoint's tree by the tiles' proof: %v", i, err)
		}
	}
	return tree
}

// CheckPartials checks that each full tile of the tree of size n that prefix serves begins
// with its partial tiles of a few widths, which the server must serve too.
func CheckPartials(t testing.TB, prefix string, n int64) {
	t.Helper()
	r := &Reader{Prefix: prefix}
	for _, tl := range tlog.NewTiles(Height, 0, n) {
		if tl.W != 1<<Height {
			continue
		}
		full, err := r.ReadTiles([]tlog.Tile{tl})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []int{1, 2, 100, 255} {
			p := tl
			p.W = w
			part, err := r.ReadTiles([]tlog.Tile{p})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(part[0], full[0][:w*tlog.HashSize]) {
				t.Fatalf("%s is not the beginning of %s", Path(p), Path(tl))
			}
		}
	}
}
