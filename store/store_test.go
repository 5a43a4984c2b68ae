package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// openTest opens a new database in a temporary directory, closed when the test ends.
func openTest(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notary.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// testLog builds a real log in memory, with the hashes merkle says to store.
type testLog struct {
	entries []notary.Entry
	hashes  []merkle.Hash
}

func (l *testLog) ReadHashes(indexes []int64) ([]merkle.Hash, error) {
	out := make([]merkle.Hash, len(indexes))
	for k, i := range indexes {
		if i < 0 || i >= int64(len(l.hashes)) {
			return nil, fmt.Errorf("no hash %d", i)
		}
		out[k] = l.hashes[i]
	}
	return out, nil
}

// grow appends n entries and returns them with the hashes they add.
func (l *testLog) grow(t testing.TB, n int) ([]notary.Entry, []merkle.Hash) {
	t.Helper()
	firstEntry, firstHash := len(l.entries), len(l.hashes)
	for range n {
		i := int64(len(l.entries))
		e := notary.Entry{
			Index:  i,
			Digest: sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(i))),
			Time:   time.UnixMilli(1_700_000_000_000 + 37*i).UTC(),
		}
		binary.BigEndian.PutUint64(e.Nonce[8:], uint64(i)^0x5555)
		hs, err := merkle.StoredHashes(i, e.LeafHash(), l)
		if err != nil {
			t.Fatal(err)
		}
		l.entries = append(l.entries, e)
		l.hashes = append(l.hashes, hs...)
	}
	return l.entries[firstEntry:], l.hashes[firstHash:]
}

// appendLog grows l by each of sizes in turn, storing each batch in db.
func appendLog(t testing.TB, db *DB, l *testLog, sizes ...int) {
	t.Helper()
	for _, n := range sizes {
		entries, hashes := l.grow(t, n)
		if err := db.AppendEntries(context.Background(), entries, hashes); err != nil {
			t.Fatal(err)
		}
	}
}

func logSize(t testing.TB, db *DB) int64 {
	t.Helper()
	n, err := db.LogSize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "notary.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	t.Run("file modes", func(t *testing.T) {
		for _, c := range []struct {
			path string
			mode os.FileMode
		}{
			{dir, 0o700 | os.ModeDir},
			{path, 0o600},
			{path + "-wal", 0o600},
			{path + "-shm", 0o600},
		} {
			fi, err := os.Stat(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != c.mode {
				t.Errorf("%s: mode %v, want %v", filepath.Base(c.path), fi.Mode(), c.mode)
			}
		}
	})

	t.Run("pragmas", func(t *testing.T) {
		ctx := context.Background()
		for _, c := range []struct {
			name string
			pool *sql.DB
			want map[string]string
		}{
			{"writer", db.writer, map[string]string{
				"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1",
				"busy_timeout": fmt.Sprint(busyTimeoutMS), "query_only": "0",
				"journal_size_limit": fmt.Sprint(walSizeLimit),
			}},
			{"reader", db.readers, map[string]string{
				"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1",
				"busy_timeout": fmt.Sprint(busyTimeoutMS), "query_only": "1",
			}},
		} {
			for pragma, want := range c.want {
				var got string
				if err := c.pool.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
					t.Fatalf("%s: %s: %v", c.name, pragma, err)
				}
				if got != want {
					t.Errorf("%s: PRAGMA %s = %s, want %s", c.name, pragma, got, want)
				}
			}
		}
		if n := db.writer.Stats().MaxOpenConnections; n != 1 {
			t.Errorf("writer has %d connections, want 1", n)
		}
	})

	t.Run("readers cannot write", func(t *testing.T) {
		_, err := db.readers.Exec(`INSERT INTO anchors (id, data) VALUES (1, x'00')`)
		if err == nil {
			t.Fatal("insert through a reader connection succeeded")
		}
	})

	t.Run("empty path", func(t *testing.T) {
		if _, err := Open(""); err == nil {
			t.Fatal("Open(\"\") succeeded")
		}
	})
}

// setUserVersion changes the schema version of a closed database behind the store's back.
func setUserVersion(t *testing.T, path string, v int) {
	t.Helper()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		t.Fatal(err)
	}
}

func userVersion(t *testing.T, db *DB) int {
	t.Helper()
	var v int
	if err := db.readers.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrations(t *testing.T) {
	embedded, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	newest := len(embedded)

	t.Run("reopen is idempotent", func(t *testing.T) {
		db, path := openTest(t)
		var l testLog
		appendLog(t, db, &l, 10)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			db, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if v := userVersion(t, db); v != newest {
				t.Errorf("user_version %d, want %d", v, newest)
			}
			if n := logSize(t, db); n != 10 {
				t.Errorf("log size %d after reopening, want 10", n)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("newer database refused", func(t *testing.T) {
		db, path := openTest(t)
		db.Close()
		setUserVersion(t, path, newest+1)
		_, err := Open(path)
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Fatalf("Open of a newer database: %v, want ErrSchemaTooNew", err)
		}
		if want := fmt.Sprintf("version %d", newest+1); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	})

	t.Run("foreign database refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "other.db")
		raw, err := sql.Open("sqlite3", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`CREATE TABLE t (x)`); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "not a notary database") {
			t.Fatalf("Open of a foreign database: %v", err)
		}
	})

	t.Run("applied in order", func(t *testing.T) {
		v1 := fstest.MapFS{
			"migrations/0001_a.sql": {Data: []byte(`CREATE TABLE a (x INTEGER);`)},
		}
		v3 := fstest.MapFS{
			"migrations/0001_a.sql": v1["migrations/0001_a.sql"],
			"migrations/0002_b.sql": {Data: []byte(`INSERT INTO a VALUES (2);`)},
			"migrations/0003_c.sql": {Data: []byte(`UPDATE a SET x = x * 10; CREATE TABLE c (y);`)},
		}
		path := filepath.Join(t.TempDir(), "m.db")
		for _, step := range []struct {
			fs      fstest.MapFS
			version int
		}{{v1, 1}, {v3, 3}, {v3, 3}} {
			db, err := open(path, step.fs)
			if err != nil {
				t.Fatal(err)
			}
			if v := userVersion(t, db); v != step.version {
				t.Errorf("user_version %d, want %d", v, step.version)
			}
			db.Close()
		}
		db, err := open(path, v3)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var x int
		if err := db.readers.QueryRow(`SELECT x FROM a`).Scan(&x); err != nil || x != 20 {
			t.Fatalf("a.x = %d, %v; want 20 (0002 then 0003, once each)", x, err)
		}
	})

	t.Run("failed migration rolls back", func(t *testing.T) {
		bad := fstest.MapFS{
			"migrations/0001_a.sql": {Data: []byte(`CREATE TABLE a (x INTEGER);`)},
			"migrations/0002_b.sql": {Data: []byte(`CREATE TABLE b (y); INSERT INTO nowhere VALUES (1);`)},
		}
		path := filepath.Join(t.TempDir(), "m.db")
		if _, err := open(path, bad); err == nil || !strings.Contains(err.Error(), "0002_b.sql") {
			t.Fatalf("open with a failing migration: %v, want an error naming it", err)
		}
		db, err := open(path, fstest.MapFS{"migrations/0001_a.sql": bad["migrations/0001_a.sql"]})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if v := userVersion(t, db); v != 1 {
			t.Errorf("user_version %d, want 1", v)
		}
		var n int
		db.readers.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'b'`).Scan(&n)
		if n != 0 {
			t.Error("table b of the failed migration exists")
		}
	})

	t.Run("numbering", func(t *testing.T) {
		sqlFile := &fstest.MapFile{Data: []byte(`SELECT 1;`)}
		for _, c := range []struct {
			name  string
			files []string
			ok    bool
		}{
			{"one", []string{"0001_init.sql"}, true},
			{"several", []string{"0001_a.sql", "0002_b.sql", "0003_c.sql"}, true},
			{"none", nil, false},
			{"gap", []string{"0001_a.sql", "0003_c.sql"}, false},
			{"not from one", []string{"0002_b.sql"}, false},
			{"duplicate", []string{"0001_a.sql", "0001_b.sql"}, false},
			{"no name", []string{"0001.sql"}, false},
			{"short number", []string{"1_a.sql"}, false},
			{"not a number", []string{"000x_a.sql"}, false},
		} {
			t.Run(c.name, func(t *testing.T) {
				fsys := fstest.MapFS{}
				for _, f := range c.files {
					fsys["migrations/"+f] = sqlFile
				}
				_, err := loadMigrations(fsys)
				if (err == nil) != c.ok {
					t.Fatalf("loadMigrations(%v): %v", c.files, err)
				}
			})
		}
	})
}

func TestAppendEntries(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	var l testLog
	appendLog(t, db, &l, 1, 2, 5, 100, 1000, 3) // odd sizes cross every statement size
	if n := logSize(t, db); n != int64(len(l.entries)) {
		t.Fatalf("log size %d, want %d", n, len(l.entries))
	}
	got, err := db.ReadHashes(ctx, seq(0, int64(len(l.hashes))))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, l.hashes) {
		t.Fatal("stored hashes differ from the ones appended")
	}
	// The refusals themselves are the contract's (service/storetest); the errors say whose they are.
	if err := db.AppendEntries(ctx, l.entries[:1], nil); err == nil || !strings.HasPrefix(err.Error(), "store: ") {
		t.Errorf("a refused append: %v, want an error with the store: prefix", err)
	}

	t.Run("failure rolls back", func(t *testing.T) {
		// The last hash of a batch fails: its entries must not be stored either.
		size := logSize(t, db)
		es, hs := fakeBatch(size, 300)
		failInsert(t, db, "hashes", merkle.StoredHashCount(size+300)-1)
		if err := db.AppendEntries(ctx, es, hs); err == nil {
			t.Fatal("AppendEntries succeeded despite the trigger")
		}
		if n := logSize(t, db); n != size {
			t.Fatalf("log size %d after a failed append, want %d", n, size)
		}
	})

	t.Run("canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		es, hs := fakeBatch(logSize(t, db), 10)
		if err := db.AppendEntries(ctx, es, hs); !errors.Is(err, context.Canceled) {
			t.Fatalf("AppendEntries with a canceled context: %v, want context.Canceled", err)
		}
	})
}

// failInsert makes inserts of the row id into table fail, on the writer connection only,
// until the test ends.
func failInsert(t *testing.T, db *DB, table string, id int64) {
	t.Helper()
	name := fmt.Sprintf("fail_%s_%d", table, id)
	_, err := db.writer.Exec(fmt.Sprintf(`CREATE TEMP TRIGGER %s BEFORE INSERT ON main.%s
		WHEN NEW.id = %d BEGIN SELECT RAISE(ABORT, 'refused by test'); END`, name, table, id))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.writer.Exec("DROP TRIGGER IF EXISTS temp." + name) })
}

func seq(from, to int64) []int64 {
	s := make([]int64, 0, to-from)
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestEntry(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	var l testLog
	appendLog(t, db, &l, 300)

	for _, i := range []int64{0, 1, 150, 299} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			e, err := db.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			want := l.entries[i]
			if e != want {
				t.Fatalf("Entry(%d) = %+v, want %+v", i, e, want)
			}
			if !bytes.Equal(e.Bytes(), want.Bytes()) {
				t.Fatal("canonical bytes differ")
			}
		})
	}
	for _, i := range []int64{300, -1, 1 << 50} {
		t.Run(fmt.Sprintf("missing %d", i), func(t *testing.T) {
			_, err := db.Entry(ctx, i)
			if !errors.Is(err, service.ErrNotFound) {
				t.Fatalf("Entry(%d): %v, want ErrNotFound", i, err)
			}
			if !strings.HasPrefix(err.Error(), "store: ") {
				t.Errorf("error %q lacks the store: prefix", err)
			}
		})
	}
}

// checkpointOf returns a checkpoint of size entries of l; the note is a stand-in for a signed one.
func checkpointOf(t *testing.T, l *testLog, size int64) notary.Checkpoint {
	t.Helper()
	root, err := merkle.TreeHash(size, l)
	if err != nil {
		t.Fatal(err)
	}
	return notary.Checkpoint{
		Origin: "notary.example/log",
		Size:   size,
		Root:   root,
		Note:   fmt.Appendf(nil, "notary.example/log\n%d\n%x\n\n— sig\n", size, root),
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "notary.db")
	var l testLog
	for round := range 3 {
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if n := logSize(t, db); n != int64(len(l.entries)) {
			t.Fatalf("round %d: log size %d, want %d", round, n, len(l.entries))
		}
		appendLog(t, db, &l, 10+round, 1)
		if err := db.SaveCheckpoint(ctx, checkpointOf(t, &l, int64(len(l.entries)))); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got []notary.Entry
	if err := db.ScanEntries(ctx, 0, func(e notary.Entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, l.entries) {
		t.Fatal("entries differ after reopening")
	}
	size := int64(len(l.entries))
	if root, err := merkle.TreeHash(size, service.HashReader(ctx, db)); err != nil || root != checkpointOf(t, &l, size).Root {
		t.Fatalf("tree hash after reopening: %v, %v", root, err)
	}
	c, err := db.LatestCheckpoint(ctx)
	if err != nil || c.Size != size {
		t.Fatalf("latest checkpoint after reopening: size %d, %v; want %d", c.Size, err, size)
	}
	// The next append must continue where the last process stopped.
	appendLog(t, db, &l, 5)
}

func TestConcurrentReadersDuringWrites(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	var l testLog
	appendLog(t, db, &l, 64)

	// The writer appends and checkpoints; the readers check that whatever they see is a
	// consistent prefix of the log.
	type batch struct {
		entries []notary.Entry
		hashes  []merkle.Hash
		c       notary.Checkpoint
	}
	var batches []batch
	roots := map[int64]merkle.Hash{}
	for round := range 60 {
		entries, hashes := l.grow(t, 1+round*7%97)
		c := checkpointOf(t, &l, int64(len(l.entries)))
		batches = append(batches, batch{entries, hashes, c})
		roots[c.Size] = c.Root
	}
	var (
		done    = make(chan struct{})
		wg      sync.WaitGroup
		writeEr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for _, b := range batches {
			if err := db.AppendEntries(ctx, b.entries, b.hashes); err != nil {
				writeEr = err
				return
			}
			if err := db.SaveCheckpoint(ctx, b.c); err != nil {
				writeEr = err
				return
			}
		}
	}()

	const readers = 6
	errs := make(chan error, readers)
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				for iter := 0; ; iter++ {
					select {
					case <-done:
						return nil
					default:
					}
					c, err := db.LatestCheckpoint(ctx)
					if err != nil {
						if errors.Is(err, service.ErrNotFound) {
							continue
						}
						return err
					}
					if want, ok := roots[c.Size]; !ok || c.Root != want {
						return fmt.Errorf("checkpoint %d root differs", c.Size)
					}
					root, err := merkle.TreeHash(c.Size, service.HashReader(ctx, db))
					if err != nil {
						return err
					}
					if root != c.Root {
						return fmt.Errorf("tree hash of %d from the store differs from its checkpoint", c.Size)
					}
					i := int64(iter*31+r) % c.Size
					e, err := db.Entry(ctx, i)
					if err != nil {
						return err
					}
					if e.Index != i {
						return fmt.Errorf("Entry(%d) has index %d", i, e.Index)
					}
					if n, err := db.LogSize(ctx); err != nil || n < c.Size {
						return fmt.Errorf("log size %d, %v, below checkpoint size %d", n, err, c.Size)
					}
				}
			}()
		}()
	}
	wg.Wait()
	close(errs)
	if writeEr != nil {
		t.Fatal(writeEr)
	}
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestReadsDoNotWaitForWriter(t *testing.T) {
	db, _ := openTest(t)
	var l testLog
	appendLog(t, db, &l, 10)

	// Hold the writer in the middle of an uncommitted transaction.
	tx, err := db.writer.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO anchors (id, data) VALUES (1, x'01')`); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := db.Entry(ctx, 3); err != nil {
		t.Fatalf("Entry during a write: %v", err)
	}
	if _, err := db.ReadHashes(ctx, []int64{0, 5}); err != nil {
		t.Fatalf("ReadHashes during a write: %v", err)
	}
	if records, _, err := db.LoadAnchorState(ctx); err != nil || len(records) != 0 {
		t.Fatalf("LoadAnchorState during a write: %v, %v; want no records (uncommitted)", records, err)
	}
}

// TestLevelDBIndexReplaced: a digest index in the LevelDB format of earlier versions is
// removed at open, and the index is rebuilt from the entries.
func TestLevelDBIndexReplaced(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "notary.db")
	dir := path + "-digests"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"CURRENT", "MANIFEST-000002", "000001.log", "LOCK"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("leveldb"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, err := db.IndexedSize(ctx); err != nil || n != 0 {
		t.Fatalf("IndexedSize = %d, %v; want 0 for an index to rebuild", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "CURRENT")); !os.IsNotExist(err) {
		t.Fatalf("the LevelDB files are still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST")); err != nil {
		t.Fatalf("no new index: %v", err)
	}
}

// TestChosenDigestsSpread: digests that share their first 8 bytes, as a client may choose
// them, get keys of their own in the digest index, so that a lookup of one reads no entry
// of the others. (That they are each found is the contract suite's DigestIndexSharedPrefix.)
func TestChosenDigestsSpread(t *testing.T) {
	db, _ := openTest(t)
	const n = 2000
	var l testLog
	entries, hashes := l.grow(t, n) // the stored hashes are not checked
	for k := range entries {
		copy(entries[k].Digest[:8], "chosen!!")
	}
	if err := db.AppendEntries(context.Background(), entries, hashes); err != nil {
		t.Fatal(err)
	}
	if err := db.IndexDigests(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	idx, err := db.index.open()
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]uint64, n)
	for k := range entries {
		keys[k] = idx.keyOf(entries[k].Digest)
	}
	records := make([]int, n)
	idx.x.Lookup(keys, func(k int, _ uint64) { records[k]++ })
	for k, c := range records {
		if c != 1 {
			t.Fatalf("digest %d: %d records under its key, want 1", k, c)
		}
	}
}
