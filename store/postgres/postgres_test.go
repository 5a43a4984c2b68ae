package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/notary-dev/notary/internal/pgtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/service/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openTest opens the store on a new database, closed when the test ends, and returns it
// with the database's DSN.
func openTest(t testing.TB) (*DB, string) {
	t.Helper()
	dsn := pgtest.Shared(t)
	return openDSN(t, dsn), dsn
}

// openDSN opens the store on dsn, closed when the test ends.
func openDSN(t testing.TB, dsn string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// connect opens a connection of the test's own to dsn.
func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// testLog builds a real log in memory, with the hashes merkle says to store. Logs of
// different seeds have different digests and nonces.
type testLog struct {
	seed    string
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
			Digest: sha256.Sum256(fmt.Appendf(nil, "%s document %d", l.seed, i)),
			Time:   time.UnixMilli(1_700_000_000_000 + 37*i).UTC(),
		}
		nonce := sha256.Sum256(fmt.Appendf(nil, "%s nonce %d", l.seed, i))
		copy(e.Nonce[:], nonce[:])
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

// fakeBatch returns n entries from index first with the right number of hashes for them.
// The hashes are not a real tree's: the store does not look at them.
func fakeBatch(first int64, n int) ([]notary.Entry, []merkle.Hash) {
	entries := make([]notary.Entry, n)
	t := time.UnixMilli(1_700_000_000_000).UTC()
	for k := range entries {
		i := first + int64(k)
		e := &entries[k]
		e.Index = i
		binary.BigEndian.PutUint64(e.Digest[:], uint64(i)*0x9e3779b97f4a7c15)
		binary.BigEndian.PutUint64(e.Digest[24:], uint64(i))
		e.Time = t.Add(time.Duration(i) * time.Millisecond)
		binary.BigEndian.PutUint64(e.Nonce[:], ^uint64(i))
	}
	start := merkle.StoredHashCount(first)
	hashes := make([]merkle.Hash, merkle.StoredHashCount(first+int64(n))-start)
	for k := range hashes {
		binary.BigEndian.PutUint64(hashes[k][:], uint64(start)+uint64(k))
		hashes[k][31] = 0xaa
	}
	return entries, hashes
}

func logSize(t testing.TB, db *DB) int64 {
	t.Helper()
	n, err := db.LogSize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestContract runs the store contract suite on PostgreSQL.
func TestContract(t *testing.T) {
	var dsn string
	storetest.Run(t, storetest.Stores{
		Open: func(t *testing.T) service.Store {
			var db *DB
			db, dsn = openTest(t)
			return db
		},
		Reopen:      func(t *testing.T) service.Store { return openDSN(t, dsn) },
		ErrorPrefix: "store/postgres: ",
	})
}

func TestOpen(t *testing.T) {
	ctx := t.Context()

	t.Run("commits are durable", func(t *testing.T) {
		// Whatever the server or the DSN says, the store's sessions wait for the flush.
		dsn := pgtest.Shared(t)
		for _, level := range []string{"off", "local", "on", "remote_apply"} {
			t.Run(level, func(t *testing.T) {
				db := openDSN(t, dsn+"&options=-c%20synchronous_commit%3D"+level)
				var got string
				if err := db.pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&got); err != nil {
					t.Fatal(err)
				}
				want := level
				if level == "off" || level == "local" {
					want = "on"
				}
				if got != want {
					t.Errorf("synchronous_commit = %s, want %s", got, want)
				}
			})
		}
	})

	t.Run("bad DSN", func(t *testing.T) {
		for _, dsn := range []string{"postgres://%zz", "host=127.0.0.1 port=1 connect_timeout=1"} {
			db, err := Open(ctx, dsn)
			if err == nil {
				db.Close()
				t.Errorf("Open(%q) succeeded", dsn)
			} else if !strings.HasPrefix(err.Error(), "store/postgres: ") {
				t.Errorf("error %q lacks the store/postgres: prefix", err)
			}
		}
	})

	t.Run("ping", func(t *testing.T) {
		db, _ := openTest(t)
		if err := db.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if err := db.Ping(ctx); err == nil {
			t.Error("Ping of a closed DB: no error")
		}
	})
}

// schemaVersionOf reads the schema version of the database at dsn.
func schemaVersionOf(t *testing.T, dsn string) int {
	t.Helper()
	var v int
	if err := connect(t, dsn).QueryRow(context.Background(), `SELECT version FROM `+versionTable).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrations(t *testing.T) {
	ctx := t.Context()
	embedded, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	newest := len(embedded)

	t.Run("reopen is idempotent", func(t *testing.T) {
		db, dsn := openTest(t)
		var l testLog
		appendLog(t, db, &l, 10)
		db.Close()
		for range 3 {
			db := openDSN(t, dsn)
			if v := schemaVersionOf(t, dsn); v != newest {
				t.Errorf("version %d, want %d", v, newest)
			}
			if n := logSize(t, db); n != 10 {
				t.Errorf("log size %d after reopening, want 10", n)
			}
			db.Close()
		}
	})

	t.Run("opened at once", func(t *testing.T) {
		// Processes starting together: each migration is applied once, all of them open.
		dsn := pgtest.Shared(t)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for k := range errs {
			wg.Go(func() {
				db, err := Open(ctx, dsn)
				if err == nil {
					db.Close()
				}
				errs[k] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if v := schemaVersionOf(t, dsn); v != newest {
			t.Errorf("version %d, want %d", v, newest)
		}
	})

	t.Run("newer database refused", func(t *testing.T) {
		db, dsn := openTest(t)
		db.Close()
		exec(t, connect(t, dsn), `UPDATE `+versionTable+` SET version = $1`, newest+1)
		_, err := Open(ctx, dsn)
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Fatalf("Open of a newer database: %v, want ErrSchemaTooNew", err)
		}
		if want := fmt.Sprintf("version %d", newest+1); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	})

	t.Run("foreign database refused", func(t *testing.T) {
		dsn := pgtest.Shared(t)
		exec(t, connect(t, dsn), `CREATE TABLE t (x integer)`)
		if _, err := Open(ctx, dsn); err == nil || !strings.Contains(err.Error(), "not a notary database") {
			t.Fatalf("Open of a foreign database: %v", err)
		}
	})

	t.Run("applied in order", func(t *testing.T) {
		v1 := fstest.MapFS{
			"migrations/0001_a.sql": {Data: []byte(`CREATE TABLE a (x integer); INSERT INTO a VALUES (1);`)},
		}
		v3 := fstest.MapFS{
			"migrations/0001_a.sql": v1["migrations/0001_a.sql"],
			"migrations/0002_b.sql": {Data: []byte(`UPDATE a SET x = x + 1;`)},
			"migrations/0003_c.sql": {Data: []byte(`UPDATE a SET x = x * 10; CREATE TABLE c (y integer);`)},
		}
		dsn := pgtest.Shared(t)
		for _, step := range []struct {
			fs      fstest.MapFS
			version int
		}{{v1, 1}, {v3, 3}, {v3, 3}} {
			db, err := open(ctx, dsn, step.fs)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			if v := schemaVersionOf(t, dsn); v != step.version {
				t.Errorf("version %d, want %d", v, step.version)
			}
		}
		var x int
		if err := connect(t, dsn).QueryRow(ctx, `SELECT x FROM a`).Scan(&x); err != nil || x != 20 {
			t.Fatalf("a.x = %d, %v; want 20 (0002 then 0003, once each)", x, err)
		}
	})

	t.Run("failed migration rolls back", func(t *testing.T) {
		bad := fstest.MapFS{
			"migrations/0001_a.sql": {Data: []byte(`CREATE TABLE a (x integer);`)},
			"migrations/0002_b.sql": {Data: []byte(`CREATE TABLE b (y integer); INSERT INTO nowhere VALUES (1);`)},
		}
		dsn := pgtest.Shared(t)
		if _, err := open(ctx, dsn, bad); err == nil || !strings.Contains(err.Error(), "0002_b.sql") {
			t.Fatalf("open with a failing migration: %v, want an error naming it", err)
		}
		if v := schemaVersionOf(t, dsn); v != 1 {
			t.Errorf("version %d, want 1", v)
		}
		var b bool
		if err := connect(t, dsn).QueryRow(ctx, `SELECT to_regclass('b') IS NOT NULL`).Scan(&b); err != nil || b {
			t.Errorf("table b of the failed migration exists (%v)", err)
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
				if _, err := loadMigrations(fsys); (err == nil) != c.ok {
					t.Fatalf("loadMigrations(%v): %v", c.files, err)
				}
			})
		}
	})
}
