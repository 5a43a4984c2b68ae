package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/notary-dev/notary/notary"
)

// digestIndex maps each logged digest to the index of its first entry. It lives beside the
// SQLite file, in the directory NAME-digests, as a log-structured merge tree (LevelDB):
// digests are random, and a B-tree keyed by them turns every insert into random page
// writes, while an LSM tree writes sequentially and merges in the background. It is
// derived from the entries and can be rebuilt from them: deleting the directory makes the
// service index the whole log again at its next start. Its writes are not synced: after a
// crash of the machine it may have lost its last chunks, and its size with them.
type digestIndex struct {
	dir  string
	once sync.Once
	db   *leveldb.DB
	err  error
}

// sizeKey holds the number of leading entries the index covers. Digest keys are 32 bytes,
// so no digest is this key.
var sizeKey = []byte("size")

// open opens the index on first use. It fails while another process has it open.
func (x *digestIndex) open() (*leveldb.DB, error) {
	x.once.Do(func() {
		if err := os.MkdirAll(x.dir, 0o700); err != nil {
			x.err = fmt.Errorf("store: digest index: %w", err)
			return
		}
		x.db, x.err = leveldb.OpenFile(x.dir, &opt.Options{
			Filter:             filter.NewBloomFilter(10), // a lookup of a new digest reads no table
			WriteBuffer:        4 << 20,
			BlockCacheCapacity: 64 << 20, // holds the bloom filters (1.25 B a digest) of some 4×10^7 digests
			NoSync:             true,
			Compression:        opt.NoCompression, // digests are random: they do not compress
		})
		if x.err != nil {
			x.err = fmt.Errorf("store: digest index %s: %w (is another notary process using this database?)", x.dir, x.err)
		}
	})
	return x.db, x.err
}

func (x *digestIndex) close() error {
	if x.db == nil {
		return nil
	}
	return x.db.Close()
}

// IndexedSize returns how many leading entries of the log the digest index covers.
func (db *DB) IndexedSize(ctx context.Context) (int64, error) {
	idx, err := db.index.open()
	if err != nil {
		return 0, err
	}
	return indexedSize(idx)
}

func indexedSize(idx *leveldb.DB) (int64, error) {
	v, err := idx.Get(sizeKey, nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: digest index size: %w", err)
	}
	n, k := binary.Varint(v)
	if k <= 0 || n < 0 {
		return 0, fmt.Errorf("store: digest index size: corrupt value %x", v)
	}
	return n, nil
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
	batch := new(leveldb.Batch)
	next := from
	var digest []byte
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id, &digest); err != nil {
			return dbErr(ctx, "index digests", err)
		}
		if id != next || len(digest) != len(notary.Digest{}) {
			return fmt.Errorf("store: index digests: entry %d is missing or corrupt", next)
		}
		next++
		batch.Put(digest, binary.AppendVarint(nil, id))
	}
	if err := rows.Err(); err != nil {
		return dbErr(ctx, "index digests", err)
	}
	if next != through {
		return fmt.Errorf("store: index digests through %d: the log has %d entries", through, next)
	}
	batch.Put(sizeKey, binary.AppendVarint(nil, through))
	if err := idx.Write(batch, nil); err != nil {
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
	idx, err := db.index.open()
	if err != nil {
		return err
	}
	for k, d := range digests {
		v, err := idx.Get(d[:], nil)
		if errors.Is(err, leveldb.ErrNotFound) {
			indexes[k] = -1
			continue
		}
		if err != nil {
			return fmt.Errorf("store: digest index: %w", err)
		}
		n, m := binary.Varint(v)
		if m <= 0 || n < 0 {
			return fmt.Errorf("store: digest index: corrupt value for %s", d)
		}
		indexes[k] = n
	}
	return nil
}
