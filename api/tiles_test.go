package api_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/tilestest"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/tiles"
)

// tileLog is a stack with n entries in a checkpoint, served with entry bundles or without.
func tileLog(t *testing.T, n int, entries bool) (*stack, string, []notary.Entry) {
	t.Helper()
	s := newStack(t, stackConfig{})
	digests := make([]notary.Digest, n)
	for i := range digests {
		digests[i] = randomDigest()
	}
	logged, err := s.svc.SubmitEntries(context.Background(), digests)
	if err != nil {
		t.Fatal(err)
	}
	waitCheckpoint(t, s.svc, int64(n))
	url := serve(t, api.New(api.Config{Service: s.svc, TileEntries: entries}))
	return s, url, logged
}

// TestTilesIndependentReader has the sumdb's tlog package recompute the root and prove
// every entry from the tiles served, and checks the bundles against the level-0 tiles.
func TestTilesIndependentReader(t *testing.T) {
	const n = 600 // two full level-0 tiles, a partial one, a partial level-1 tile
	s, url, logged := tileLog(t, n, true)
	raw := make([][]byte, len(logged))
	for i, e := range logged {
		raw[i] = e.Bytes()
	}
	tree := tilestest.CheckLog(t, url+"/log", s.vkey, raw)
	if tree.N != n {
		t.Fatalf("the checkpoint has size %d, want %d", tree.N, n)
	}
	tilestest.CheckPartials(t, url+"/log", n)
	// Every bundle holds the canonical entries, each hashing to its level-0 tile's hash.
	r := &tilestest.Reader{Prefix: url + "/log"}
	for _, tl := range tlog.NewTiles(tilestest.Height, 0, n) {
		if tl.L != 0 {
			continue
		}
		hashes, err := r.ReadTiles([]tlog.Tile{tl})
		if err != nil {
			t.Fatal(err)
		}
		b := tl
		b.L = -1
		bundle, err := r.ReadTiles([]tlog.Tile{b})
		if err != nil {
			t.Fatal(err)
		}
		got, err := tiles.SplitBundle(bundle[0])
		if err != nil || len(got) != tl.W {
			t.Fatalf("%s: %d entries, %v; want %d", tilestest.Path(b), len(got), err, tl.W)
		}
		for k, e := range got {
			i := tl.N*256 + int64(k)
			if !bytes.Equal(e, raw[i]) {
				t.Fatalf("entry %d of %s is not entry %d", k, tilestest.Path(b), i)
			}
			if h := tlog.RecordHash(e); !bytes.Equal(h[:], hashes[0][k*32:(k+1)*32]) {
				t.Fatalf("entry %d of %s does not hash to its level-0 tile's hash", k, tilestest.Path(b))
			}
		}
	}
}

// TestTilesHeadersAndBounds checks the types and caching of what is served, and the
// answers to paths that are malformed, beyond the checkpoint, or bundles not published.
func TestTilesHeadersAndBounds(t *testing.T) {
	_, url, _ := tileLog(t, 300, false)
	for _, tt := range []struct {
		path, cache, ctype string
		size               int
	}{
		{"/log/checkpoint", "public, max-age=1", "text/plain; charset=utf-8", 0},
		{"/log/tile/0/000", "public, max-age=31536000, immutable", "application/octet-stream", 256 * 32},
		{"/log/tile/0/001.p/44", "public, max-age=60", "application/octet-stream", 44 * 32},
		{"/log/tile/0/001.p/1", "public, max-age=60", "application/octet-stream", 32},
		{"/log/tile/0/000.p/7", "public, max-age=60", "application/octet-stream", 7 * 32},
		{"/log/tile/1/000.p/1", "public, max-age=60", "application/octet-stream", 32},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			r := doH(t, method, url+tt.path, nil)
			if r.status != http.StatusOK || r.header.Get("Cache-Control") != tt.cache || r.header.Get("Content-Type") != tt.ctype {
				t.Errorf("%s %s: status %d, Cache-Control %q, Content-Type %q; want 200, %q, %q",
					method, tt.path, r.status, r.header.Get("Cache-Control"), r.header.Get("Content-Type"), tt.cache, tt.ctype)
			}
			if method == http.MethodGet && tt.size > 0 && len(r.body) != tt.size {
				t.Errorf("GET %s: %d bytes, want %d", tt.path, len(r.body), tt.size)
			}
		}
	}
	for _, tt := range []struct {
		path   string
		status int
		code   string
	}{
		{"/log/tile/0/001", 404, "not_found"},      // the full tile needs 512 entries
		{"/log/tile/0/001.p/45", 404, "not_found"}, // one hash beyond the checkpoint
		{"/log/tile/0/002.p/1", 404, "not_found"},
		{"/log/tile/1/000", 404, "not_found"},
		{"/log/tile/1/000.p/2", 404, "not_found"},
		{"/log/tile/2/000.p/1", 404, "not_found"},
		{"/log/tile/63/000.p/1", 404, "not_found"},
		{"/log/tile/0/x009/x223/x372/x036/x854/x775/807", 404, "not_found"},
		{"/log/tile/0/x999/x999/x999/x999/x999/x999/x999/999", 404, "not_found"},
		{"/log/tile/entries/000", 404, "not_found"}, // not published by this log
		{"/log/tile/64/000", 400, "bad_request"},
		{"/log/tile/8/0/000", 400, "bad_request"},
		{"/log/tile/0/0", 400, "bad_request"},
		{"/log/tile/0/000.p/0", 400, "bad_request"},
		{"/log/tile/0/000.p/256", 400, "bad_request"},
		{"/log/tile/0/x000/000", 400, "bad_request"},
		{"/log/tile/00/000", 400, "bad_request"},
		{"/log/tile/0/000/", 400, "bad_request"},
		{"/log/tile/", 400, "bad_request"},
	} {
		r := doH(t, http.MethodGet, url+tt.path, nil)
		wantError(t, r, tt.status, tt.code)
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q on an error, want no-store", tt.path, cc)
		}
	}
}

// TestTilesEmptyLog checks that an empty log serves its checkpoint of size 0, and no tile.
func TestTilesEmptyLog(t *testing.T) {
	s := newStack(t, stackConfig{})
	url := serve(t, api.New(api.Config{Service: s.svc, TileEntries: true}))
	r := doH(t, http.MethodGet, url+"/log/checkpoint", nil)
	if tree, err := tilestest.OpenCheckpoint(r.body, s.vkey); r.status != http.StatusOK || err != nil || tree.N != 0 {
		t.Errorf("GET /log/checkpoint: status %d, size %d, %v", r.status, tree.N, err)
	}
	wantError(t, doH(t, http.MethodGet, url+"/log/tile/0/000.p/1", nil), http.StatusNotFound, "not_found")
	wantError(t, doH(t, http.MethodGet, url+"/log/tile/entries/000.p/1", nil), http.StatusNotFound, "not_found")
}
