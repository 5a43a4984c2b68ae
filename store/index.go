package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/notary-dev/notary/internal/digestkey"
	"github.com/notary-dev/notary/internal/runindex"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// digestIndex maps each logged digest to the index of its first entry. It lives beside the
// SQLite file, in the directory NAME-digests, as sorted runs of fixed-size records
// (internal/runindex) rather than in SQLite: digests are random, and a B-tree keyed by them
// turns every insert into random page writes, while runs are written sequentially and
// merged in the background of writes.
//
// A record holds the digest's key (internal/digestkey, under the index's secret, so that
// clients, who choose the digests they submit, cannot choose where they go) and the entry's
// index; a lookup confirms a match by reading the entry's digest. It is derived from the
// entries and can be rebuilt from them: deleting the directory makes the service index the
// whole log again at its next start.
type digestIndex struct {
	dir  string
	once sync.Once
	x    *runindex.Index
	keys *digestkey.Keyer // under the index's secret
	err  error
}

// open opens the index on first use. It fails while another process has it open.
func (x *digestIndex) open() (*digestIndex, error) {
	x.once.Do(func() {
		if err := removeLevelDB(x.dir); err != nil {
			x.err = fmt.Errorf("store: digest index: %w", err)
			return
		}
		if x.x, x.err = runindex.Open(x.dir); x.err != nil {
			x.err = fmt.Errorf("store: digest index %s: %w (is another notary process using this database?)", x.dir, x.err)
			return
		}
		secret := x.x.Secret()
		x.keys, x.err = digestkey.New(secret[:])
	})
	return x, x.err
}

// removeLevelDB removes the digest index that versions before this one kept in dir, in
// LevelDB's format: the index is rebuilt from the entries.
func removeLevelDB(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "CURRENT")); err != nil {
		return nil // none there
	}
	return os.RemoveAll(dir)
}

func (x *digestIndex) close() error {
	if x.x == nil {
		return nil
	}
	return x.x.Close()
}

// keyOf returns the index key of digest d (internal/digestkey).
func (x *digestIndex) keyOf(d notary.Digest) uint64 { return x.keys.Key((*[32]byte)(&d)) }

// IndexedSize returns how many leading entries of the log the digest index covers.
func (db *DB) IndexedSize(ctx context.Context) (int64, error) {
	idx, err := db.index.open()
	if err != nil {
		return 0, err
	}
	return indexedSize(idx)
}

func indexedSize(idx *digestIndex) (int64, error) {
	n := idx.x.Meta()
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("store: digest index size: corrupt value %d", n)
	}
	return int64(n), nil
}

// IndexDigests adds the digests of the entries [IndexedSize, through) to the digest index
// and moves IndexedSize to through, in one write. The service never logs a digest twice
// (a repeated digest gets its first entry), so each digest is new to the index; notary
// audit checks that the index maps every entry's digest to that entry.
func (db *DB) IndexDigests(ctx context.Context, through int64) error {
	idx, err := db.index.open()
	if err != nil {
		return err
	}
	from, err := indexedSize(idx)
	if err != nil {
		return err
	}
	switch {
	case through < from:
		return fmt.Errorf("store: index digests through %d: the index already covers %d entries", through, from)
	case through == from:
		return nil
	}
	rows, err := db.scanDigests.QueryContext(ctx, from, through)
	if err != nil {
		return dbErr(ctx, "index digests", err)
	}
	defer rows.Close()
	recs := make([]runindex.Record, 0, through-from)
	next := from
	var d notary.Digest
	var raw sql.RawBytes
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id, &raw); err != nil {
			return dbErr(ctx, "index digests", err)
		}
		if id != next || len(raw) != len(d) {
			return fmt.Errorf("store: index digests: entry %d is missing or corrupt", next)
		}
		copy(d[:], raw)
		next++
		recs = append(recs, runindex.Record{Key: idx.keyOf(d), Value: uint64(id)})
	}
	if err := rows.Err(); err != nil {
		return dbErr(ctx, "index digests", err)
	}
	if next != through {
		return fmt.Errorf("store: index digests through %d: the log has %d entries", through, next)
	}
	if err := idx.x.Add(recs, uint64(through)); err != nil {
		return fmt.Errorf("store: digest index: %w", err)
	}
	return nil
}

// LookupDigests sets indexes[k] to the index of the first entry of digests[k] in the digest
// index, or -1.
func (db *DB) LookupDigests(ctx context.Context, digests []notary.Digest, indexes []int64) error {
	if len(indexes) != len(digests) {
		return fmt.Errorf("store: lookup digests: %d digests, %d indexes", len(digests), len(indexes))
	}
	return db.lookup(ctx, digests, func(k int, e notary.Entry) { indexes[k] = e.Index })
}

// LookupEntries sets entries[k] to the first entry of digests[k] if the digest index holds
// it, and entries[k].Index to -1 if not: the entry a lookup reads to confirm a match.
func (db *DB) LookupEntries(ctx context.Context, digests []notary.Digest, entries []notary.Entry) error {
	if len(entries) != len(digests) {
		return fmt.Errorf("store: lookup entries: %d digests, %d entries", len(digests), len(entries))
	}
	return db.lookup(ctx, digests, func(k int, e notary.Entry) { entries[k] = e })
}

// lookup calls found with the position in digests and the first entry of each digest the
// index holds, and with an entry of Index -1 for each other. A key's records are confirmed
// by reading their entries: almost always there is one, the digest's.
func (db *DB) lookup(ctx context.Context, digests []notary.Digest, found func(k int, e notary.Entry)) error {
	idx, err := db.index.open()
	if err != nil {
		return err
	}
	keys := make([]uint64, len(digests))
	first := make([]notary.Entry, len(digests))
	for k, d := range digests {
		keys[k] = idx.keyOf(d)
		first[k].Index = -1
	}
	type candidate struct {
		k     int
		entry uint64
	}
	var candidates []candidate
	idx.x.Lookup(keys, func(k int, entry uint64) {
		candidates = append(candidates, candidate{k, entry})
	})
	for _, c := range candidates {
		if c.entry > math.MaxInt64 {
			return fmt.Errorf("store: digest index: corrupt entry index %d for %s", c.entry, digests[c.k])
		}
		i := int64(c.entry)
		if first[c.k].Index >= 0 && first[c.k].Index < i {
			continue
		}
		e, err := db.Entry(ctx, i)
		if errors.Is(err, service.ErrNotFound) {
			return fmt.Errorf("store: digest index: entry %d, which it holds for %s, is not in the log", i, digests[c.k])
		}
		if err != nil {
			return err
		}
		if e.Digest == digests[c.k] {
			first[c.k] = e
		}
	}
	for k, e := range first {
		found(k, e)
	}
	return nil
}
