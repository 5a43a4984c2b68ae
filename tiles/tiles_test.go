package tiles

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

func TestPath(t *testing.T) {
	tests := []struct {
		tile Tile
		path string
	}{
		{Tile{0, 0, 256}, "tile/0/000"},
		{Tile{0, 0, 1}, "tile/0/000.p/1"},
		{Tile{1, 999, 256}, "tile/1/999"},
		{Tile{1, 1000, 256}, "tile/1/x001/000"},
		{Tile{2, 1234067, 17}, "tile/2/x001/x234/067.p/17"},
		{Tile{63, 0, 255}, "tile/63/000.p/255"},
		{Tile{EntriesLevel, 5, 256}, "tile/entries/005"},
		{Tile{EntriesLevel, 1000000, 3}, "tile/entries/x001/x000/000.p/3"},
		{Tile{0, 1<<63 - 1, 256}, "tile/0/x009/x223/x372/x036/x854/x775/807"},
	}
	for _, tt := range tests {
		if got := tt.tile.Path(); got != tt.path {
			t.Errorf("%+v.Path() = %q, want %q", tt.tile, got, tt.path)
		}
		got, err := ParsePath(tt.path)
		if err != nil || got != tt.tile {
			t.Errorf("ParsePath(%q) = %+v, %v; want %+v", tt.path, got, err, tt.tile)
		}
	}
}

func TestParsePathRefuses(t *testing.T) {
	tests := []struct {
		path string
		want error
	}{
		{"", ErrBadPath},
		{"tile/0", ErrBadPath},
		{"tile/0/", ErrBadPath},
		{"tile/00/000", ErrBadPath},
		{"tile/64/000", ErrBadPath},
		{"tile/-1/000", ErrBadPath},
		{"tile/+1/000", ErrBadPath},
		{"tile/8/0/000", ErrBadPath}, // the sumdb form, with a height
		{"tile/data/000", ErrBadPath},
		{"tile/0/0", ErrBadPath},
		{"tile/0/0000", ErrBadPath},
		{"tile/0/x000/001", ErrBadPath},
		{"tile/0/001/002", ErrBadPath},
		{"tile/0/x001/x002", ErrBadPath},
		{"tile/0/x001", ErrBadPath},
		{"tile/0/000.p/0", ErrBadPath},
		{"tile/0/000.p/256", ErrBadPath},
		{"tile/0/000.p/05", ErrBadPath},
		{"tile/0/000.p/", ErrBadPath},
		{"tile/0/000.p/1/2", ErrBadPath},
		{"tile/0/000.p", ErrBadPath},
		{"tile/0/00a", ErrBadPath},
		{"tile/0/000/", ErrBadPath},
		{"/tile/0/000", ErrBadPath},
		{"tile/entries/x001", ErrBadPath},
		{"tile/0/x009/x223/x372/x036/x854/x775/808", ErrTooFar},
		{"tile/0/x001/x000/x000/x000/x000/x000/x000/000", ErrTooFar},
	}
	for _, tt := range tests {
		if _, err := ParsePath(tt.path); !errors.Is(err, tt.want) {
			t.Errorf("ParsePath(%q) = %v, want %v", tt.path, err, tt.want)
		}
	}
}

// FuzzParsePath checks ParsePath against the sumdb's ParseTilePath, an independent parser
// of the same encoding (with a height element and a "data" level instead of "entries"):
// both accept the same paths, for the same tiles, but for levels above 63, which only the
// sumdb allows.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"tile/0/000", "tile/1/x001/234.p/5", "tile/entries/x001/000", "tile/0/x000/001", "tile/0/000.p/256", "tile/64/000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		tile, err := ParsePath(path)
		if err == nil && tile.Path() != path {
			t.Fatalf("ParsePath(%q) = %+v, whose path is %q", path, tile, tile.Path())
		}
		rest, ok := strings.CutPrefix(path, "tile/")
		if !ok {
			if err == nil {
				t.Fatalf("ParsePath(%q) accepted a path without tile/", path)
			}
			return
		}
		if strings.HasPrefix(rest, "data/") {
			return
		}
		rest = strings.Replace(rest, "entries/", "data/", 1)
		ref, refErr := tlog.ParseTilePath("tile/8/" + rest)
		if errors.Is(err, ErrTooFar) {
			return // the sumdb's parser overflows silently
		}
		if refErr == nil && err != nil && ref.L <= MaxLevel {
			t.Fatalf("ParsePath(%q): %v; the sumdb reads %+v", path, err, ref)
		}
		if err == nil {
			if refErr != nil {
				t.Fatalf("ParsePath(%q) = %+v; the sumdb refuses it: %v", path, tile, refErr)
			}
			if ref.L != tile.Level || ref.N != tile.Index || ref.W != tile.Width {
				t.Fatalf("ParsePath(%q) = %+v; the sumdb reads %+v", path, tile, ref)
			}
		}
	})
}

func TestWithin(t *testing.T) {
	tests := []struct {
		tile Tile
		size int64
		want bool
	}{
		{Tile{0, 0, 256}, 256, true},
		{Tile{0, 0, 256}, 255, false},
		{Tile{0, 0, 255}, 255, true},
		{Tile{0, 0, 5}, 255, true},
		{Tile{0, 1, 1}, 256, false},
		{Tile{0, 1, 1}, 257, true},
		{Tile{1, 0, 1}, 256, true},
		{Tile{1, 0, 1}, 255, false},
		{Tile{1, 0, 2}, 511, false},
		{Tile{2, 0, 1}, 65536, true},
		{Tile{EntriesLevel, 0, 3}, 3, true},
		{Tile{EntriesLevel, 0, 4}, 3, false},
		{Tile{0, 0, 1}, 0, false},
		{Tile{0, 1<<63 - 1, 256}, 1<<62 - 1, false},
		{Tile{7, 0, 1}, 1 << 56, true},
		{Tile{8, 0, 1}, 1<<62 - 1, false},
		{Tile{63, 0, 1}, 1<<62 - 1, false},
	}
	for _, tt := range tests {
		if got := tt.tile.Within(tt.size); got != tt.want {
			t.Errorf("%s Within(%d) = %v, want %v", tt.tile.Path(), tt.size, got, tt.want)
		}
	}
}

// TestForMatchesSumdb checks the tiles a grown log adds against the sumdb's NewTiles.
func TestForMatchesSumdb(t *testing.T) {
	sizes := []int64{0, 1, 2, 255, 256, 257, 511, 512, 65535, 65536, 65537, 70000, 1<<24 + 3}
	for _, from := range sizes {
		for _, to := range sizes {
			if from > to {
				continue
			}
			var want []Tile
			for _, tl := range tlog.NewTiles(Height, from, to) {
				want = append(want, Tile{tl.L, tl.N, tl.W})
			}
			got := For(from, to, false)
			if !slices.Equal(got, want) {
				t.Errorf("For(%d, %d) = %v, want %v", from, to, got, want)
			}
			// Every tile of a tree is within it; with one hash more, only if the tree has
			// that many hashes at the tile's level.
			for _, tl := range got {
				wider := tl
				if wider.Full() {
					wider.Index, wider.Width = wider.Index+1, 1
				} else {
					wider.Width++
				}
				more := tl.Index*FullWidth+int64(tl.Width)+1 <= to>>(Height*tl.Level)
				if !tl.Within(to) || wider.Within(to) != more {
					t.Fatalf("size %d: %s within: %v, %s within: %v", to, tl.Path(), tl.Within(to), wider.Path(), wider.Within(to))
				}
			}
		}
	}
	// The specification's example: 70,000 leaves.
	var got []string
	for _, tl := range For(0, 70000, false) {
		if !tl.Full() || tl.Level > 0 {
			got = append(got, tl.Path())
		}
	}
	if want := "tile/0/273.p/112 tile/1/000 tile/1/001.p/17 tile/2/000.p/1"; strings.Join(got, " ") != want {
		t.Errorf("For(0, 70000) beyond the full level-0 tiles = %v, want %s", got, want)
	}
	if b := For(0, 300, true); b[0] != (Tile{EntriesLevel, 0, 256}) || b[1] != (Tile{EntriesLevel, 1, 44}) {
		t.Errorf("For(0, 300, true) begins %v, want the bundles first", b[:2])
	}
}

// memLog is a log held in memory, its hashes stored as merkle stores them.
type memLog struct {
	hashes []merkle.Hash
	size   int64
}

func (m *memLog) ReadHashes(indexes []int64) ([]merkle.Hash, error) {
	out := make([]merkle.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memLog) append(t *testing.T, leaf merkle.Hash) {
	hs, err := merkle.StoredHashes(m.size, leaf, m)
	if err != nil {
		t.Fatal(err)
	}
	m.hashes = append(m.hashes, hs...)
	m.size++
}

// sumdbReader adapts memLog to the sumdb's HashReader.
type sumdbReader struct{ m *memLog }

func (r sumdbReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	hs, err := r.m.ReadHashes(indexes)
	out := make([]tlog.Hash, len(hs))
	for i, h := range hs {
		out[i] = tlog.Hash(h)
	}
	return out, err
}

// TestReadHashTileMatchesSumdb checks every tile of a log of 70,000 leaves against the
// sumdb's ReadTileData over the same storage, and that the tiles give the log's root.
func TestReadHashTileMatchesSumdb(t *testing.T) {
	const size = 70000
	m := &memLog{}
	for i := range size {
		m.append(t, merkle.Hash(sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i)))))
	}
	for _, tl := range For(0, size, false) {
		got, err := ReadHashTile(tl, m)
		if err != nil {
			t.Fatal(err)
		}
		want, err := tlog.ReadTileData(tlog.Tile{H: Height, L: tl.Level, N: tl.Index, W: tl.Width}, sumdbReader{m})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s differs from the sumdb's tile", tl.Path())
		}
	}
	if _, err := ReadHashTile(Tile{EntriesLevel, 0, 1}, m); err == nil {
		t.Error("ReadHashTile read an entry bundle as hashes")
	}
}

func TestBundle(t *testing.T) {
	var b []byte
	var entries []notary.Entry
	for i := range 3 {
		e := notary.Entry{Index: int64(i), Time: time.UnixMilli(1700000000000 + int64(i))}
		e.Digest[0], e.Nonce[0] = byte(i), byte(i+1)
		entries = append(entries, e)
		b = AppendBundleEntry(b, e)
	}
	if len(b) != 3*BundleEntrySize {
		t.Fatalf("a bundle of 3 entries has %d bytes, want %d", len(b), 3*BundleEntrySize)
	}
	got, err := SplitBundle(b)
	if err != nil || len(got) != 3 {
		t.Fatalf("SplitBundle: %d entries, %v", len(got), err)
	}
	for i, raw := range got {
		if !bytes.Equal(raw, entries[i].Bytes()) {
			t.Errorf("entry %d of the bundle is not its canonical bytes", i)
		}
	}
	for _, bad := range [][]byte{b[:1], b[:10], append([]byte{0, 56}, make([]byte, 56)...)} {
		if _, err := SplitBundle(bad); err == nil {
			t.Errorf("SplitBundle(%x) accepted it", bad)
		}
	}
}
