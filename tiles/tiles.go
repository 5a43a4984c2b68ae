// Package tiles publishes a notary log as C2SP tlog-tiles (https://c2sp.org/tlog-tiles):
// tile coordinates and their paths, the bytes of a hash tile and of an entry bundle, and
// which tiles a grown log adds. The server, the exporter and the monitor share it, so that
// what is served, what is exported and what is read are the same files.
//
// Tiles have height 8: a full tile holds 256 hashes (8192 bytes). The hashes of a tile at
// level L are those of the complete subtrees of 256^L leaves, which the log stores (see
// merkle.StoredHashIndex at level 8·L).
package tiles

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// Height is the height of every tile: each hash of a tile at level L covers 256^L leaves.
const Height = 8

// FullWidth is the number of hashes, or entries, in a full tile or bundle.
const FullWidth = 1 << Height

// MaxLevel is the greatest level a tile path may name (the specification's bound).
const MaxLevel = 63

// EntriesLevel is the Level of an entry bundle: tile/entries/<N>[.p/<W>].
const EntriesLevel = -1

var (
	// ErrBadPath is returned (wrapped) by ParsePath for a path that is not a tile path
	// written as the specification requires.
	ErrBadPath = errors.New("tiles: malformed tile path")
	// ErrTooFar is returned (wrapped) by ParsePath for a well-formed path whose index is
	// beyond any log (it does not fit in 63 bits).
	ErrTooFar = errors.New("tiles: tile index beyond any log")
)

// A Tile is the coordinate of a hash tile or an entry bundle.
type Tile struct {
	// Level is the tile's level, from 0 (leaf hashes) to MaxLevel, or EntriesLevel.
	Level int
	// Index is the tile's position within its level, from 0.
	Index int64
	// Width is the number of hashes or entries it holds: FullWidth for a full tile,
	// 1 to FullWidth-1 for a partial one.
	Width int
}

// Full reports whether t is a full tile.
func (t Tile) Full() bool { return t.Width == FullWidth }

// Path returns t's path relative to the log's prefix: tile/<L>/<N>[.p/<W>], or
// tile/entries/<N>[.p/<W>] for a bundle, with N in zero-padded groups of three digits,
// all but the last prefixed with x (1234067 is x001/x234/067).
func (t Tile) Path() string {
	var b strings.Builder
	b.WriteString("tile/")
	if t.Level == EntriesLevel {
		b.WriteString("entries")
	} else {
		b.WriteString(strconv.Itoa(t.Level))
	}
	var groups []int64
	for n := t.Index; ; n /= 1000 {
		groups = append(groups, n%1000)
		if n < 1000 {
			break
		}
	}
	for i := len(groups) - 1; i >= 0; i-- {
		b.WriteByte('/')
		if i > 0 {
			b.WriteByte('x')
		}
		fmt.Fprintf(&b, "%03d", groups[i])
	}
	if !t.Full() {
		b.WriteString(".p/")
		b.WriteString(strconv.Itoa(t.Width))
	}
	return b.String()
}

// maxGroups is the most three-digit groups an index of 63 bits takes.
const maxGroups = 7

// ParsePath parses a tile path as Path writes it, and nothing else: a level from 0 to
// MaxLevel or "entries", without leading zeros; an index in groups of exactly three
// digits, all but the last prefixed with x, the first not zero unless it is the only one;
// a partial width from 1 to 255 without leading zeros. A malformed path is an error
// wrapping ErrBadPath; an index beyond 63 bits, one wrapping ErrTooFar.
func ParsePath(path string) (Tile, error) {
	bad := func(why string) (Tile, error) {
		return Tile{}, fmt.Errorf("%w %q: %s", ErrBadPath, path, why)
	}
	rest, ok := strings.CutPrefix(path, "tile/")
	if !ok {
		return bad("it does not start with tile/")
	}
	level, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("it has no index")
	}
	t := Tile{Width: FullWidth}
	if level == "entries" {
		t.Level = EntriesLevel
	} else {
		l, err := canonicalInt(level, MaxLevel)
		if err != nil {
			return bad("the level must be a number from 0 to 63")
		}
		t.Level = int(l)
	}
	if index, width, ok := strings.Cut(rest, ".p/"); ok {
		w, err := canonicalInt(width, FullWidth-1)
		if err != nil || w == 0 {
			return bad("the width of a partial tile must be a number from 1 to 255")
		}
		t.Width, rest = int(w), index
	}
	groups := strings.Split(rest, "/")
	if len(groups) > 1 && groups[0] == "x000" {
		return bad("the index has a leading group of zeros")
	}
	var n int64
	tooFar := len(groups) > maxGroups
	for i, g := range groups {
		if i < len(groups)-1 {
			var ok bool
			if g, ok = strings.CutPrefix(g, "x"); !ok {
				return bad("every group of the index but the last must start with x")
			}
		}
		if len(g) != 3 || !allDigits(g) {
			return bad("the index must be written in groups of three digits")
		}
		d, _ := strconv.ParseInt(g, 10, 64)
		if n > (1<<63-1-d)/1000 {
			tooFar = true
		} else {
			n = n*1000 + d
		}
	}
	if tooFar {
		return Tile{}, fmt.Errorf("%w: %q", ErrTooFar, path)
	}
	t.Index = n
	return t, nil
}

// canonicalInt parses a decimal number from 0 to limit written without sign or leading zeros.
func canonicalInt(s string, limit int64) (int64, error) {
	if s == "" || len(s) > 1 && s[0] == '0' || !allDigits(s) || len(s) > 3 {
		return 0, errors.New("not canonical")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > limit {
		return 0, errors.New("out of range")
	}
	return n, nil
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// span returns 256^level, the leaves each hash of a tile at level covers, and false when
// that exceeds every log this package addresses.
func span(level int) (int64, bool) {
	if level == EntriesLevel {
		level = 0
	}
	if level*Height >= 62 {
		return 0, false
	}
	return 1 << (level * Height), true
}

// Within reports whether every hash (or entry) of t belongs to the tree of size leaves:
// t may be served for a checkpoint of that size.
func (t Tile) Within(size int64) bool {
	if t.Width < 1 || t.Width > FullWidth || t.Index < 0 || size <= 0 {
		return false
	}
	s, ok := span(t.Level)
	if !ok {
		return false
	}
	// The tile needs (Index·256 + Width)·s leaves; compare without overflow.
	units := size / s
	return t.Index <= (units-int64(t.Width))/FullWidth && t.Index*FullWidth+int64(t.Width) <= units
}

// For returns the tiles, at every level, that a tree of size leaves is made of, and the
// bundles when entries is true: the full ones and, where the size ends mid-tile, the
// partial one. Tiles that from already has in full are left out, so that For(from, size)
// lists what a log grown from from to size adds. It requires 0 ≤ from ≤ size.
func For(from, size int64, entries bool) []Tile {
	var out []Tile
	add := func(level int, oldN, newN int64) {
		if oldN == newN {
			return
		}
		for n := oldN / FullWidth; n < newN/FullWidth; n++ {
			out = append(out, Tile{Level: level, Index: n, Width: FullWidth})
		}
		if w := newN % FullWidth; w > 0 {
			out = append(out, Tile{Level: level, Index: newN / FullWidth, Width: int(w)})
		}
	}
	if entries {
		add(EntriesLevel, from, size)
	}
	for level := 0; ; level++ {
		s, ok := span(level)
		if !ok || size/s == 0 {
			break
		}
		add(level, from/s, size/s)
	}
	return out
}

// ReadHashTile returns the bytes of hash tile t: its Width hashes, 32 bytes each, read
// from r in one call. It requires t.Level ≥ 0 and t.Within the tree r stores.
func ReadHashTile(t Tile, r merkle.HashReader) ([]byte, error) {
	if _, ok := span(t.Level); t.Level < 0 || !ok {
		return nil, fmt.Errorf("tiles: %s is not a hash tile of any log", t.Path())
	}
	level := t.Level * Height
	first := t.Index * FullWidth
	indexes := make([]int64, t.Width)
	for i := range indexes {
		indexes[i] = merkle.StoredHashIndex(level, first+int64(i))
	}
	hashes, err := r.ReadHashes(indexes)
	if err != nil {
		return nil, fmt.Errorf("tiles: reading %s: %w", t.Path(), err)
	}
	if len(hashes) != len(indexes) {
		return nil, fmt.Errorf("tiles: reading %s: %d hashes for %d indexes", t.Path(), len(hashes), len(indexes))
	}
	data := make([]byte, 0, len(hashes)*merkle.HashSize)
	for _, h := range hashes {
		data = append(data, h[:]...)
	}
	return data, nil
}

// BundleEntrySize is the size of an entry in a bundle: the big-endian uint16 length,
// then the entry's canonical bytes (notary.Entry.Bytes), whose leaf hash is the one of
// the level-0 tile.
const BundleEntrySize = 2 + notary.EntrySize

// AppendBundleEntry appends e to the entry bundle b, as the specification writes entries:
// a big-endian uint16 length, then the entry's canonical bytes.
func AppendBundleEntry(b []byte, e notary.Entry) []byte {
	b = binary.BigEndian.AppendUint16(b, notary.EntrySize)
	return append(b, e.Bytes()...)
}

// SplitBundle returns the entries of a bundle, each the canonical bytes of an entry, or an
// error if the bundle is not a sequence of length-prefixed entries of notary's size.
func SplitBundle(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, errors.New("tiles: a bundle ends inside a length")
		}
		n := int(binary.BigEndian.Uint16(b))
		if n != notary.EntrySize {
			return nil, fmt.Errorf("tiles: a bundle entry of %d bytes, not %d", n, notary.EntrySize)
		}
		if len(b) < 2+n {
			return nil, errors.New("tiles: a bundle ends inside an entry")
		}
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	return out, nil
}
