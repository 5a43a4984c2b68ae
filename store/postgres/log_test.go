package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/notary-dev/notary/internal/pgtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// failInsert makes inserts into table fail where the SQL condition cond holds on the new
// row (as NEW), until the test ends.
func failInsert(t *testing.T, dsn, table, cond string) {
	t.Helper()
	conn := connect(t, dsn)
	exec(t, conn, `CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'refused by test'; END $$`)
	name := pgx.Identifier{"fail_" + table}.Sanitize()
	exec(t, conn, fmt.Sprintf(`CREATE TRIGGER %s BEFORE INSERT ON %s FOR EACH ROW WHEN (%s) EXECUTE FUNCTION refuse()`,
		name, pgx.Identifier{table}.Sanitize(), cond))
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			conn.Exec(context.Background(), fmt.Sprintf(`DROP TRIGGER IF EXISTS %s ON %s`, name, pgx.Identifier{table}.Sanitize()))
			conn.Close(context.Background())
		}
	})
}

func seq(from, to int64) []int64 {
	s := make([]int64, 0, to-from)
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestAppendEntries(t *testing.T) {
	ctx := context.Background()
	db, dsn := openTest(t)
	var l testLog
	appendLog(t, db, &l, 1, 2, 5, 100, 1000, 3)
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
	if err := db.AppendEntries(ctx, l.entries[:1], nil); err == nil || !strings.HasPrefix(err.Error(), "store/postgres: ") {
		t.Errorf("a refused append: %v, want an error with the store/postgres: prefix", err)
	}

	t.Run("failure rolls back", func(t *testing.T) {
		// The hashes of a batch fail: its entries must not be stored, nor the head move.
		size := logSize(t, db)
		es, hs := fakeBatch(size, 300)
		failInsert(t, dsn, "hash_batches", "true")
		if err := db.AppendEntries(ctx, es, hs); err == nil || errors.Is(err, service.ErrOutOfSequence) {
			t.Fatalf("AppendEntries despite the trigger: %v, want an error, not ErrOutOfSequence", err)
		}
		if n := logSize(t, db); n != size {
			t.Fatalf("log size %d after a failed append, want %d", n, size)
		}
		if _, err := db.Entry(ctx, size); !errors.Is(err, service.ErrNotFound) {
			t.Fatalf("an entry of the failed append was stored: %v", err)
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

// TestAppendManyRows appends batches of more than one row's entries: one transaction of
// several rows, read back across the rows' edges.
func TestAppendManyRows(t *testing.T) {
	ctx := context.Background()
	db, dsn := openTest(t)
	sizes := []int{3, 2*rowEntries + 5, rowEntries, 7}
	var want []notary.Entry
	var wantHashes []merkle.Hash
	var size int64
	for _, n := range sizes {
		es, hs := fakeBatch(size, n)
		if err := db.AppendEntries(ctx, es, hs); err != nil {
			t.Fatal(err)
		}
		want, wantHashes = append(want, es...), append(wantHashes, hs...)
		size += int64(n)
	}
	if n := logSize(t, db); n != size {
		t.Fatalf("log size %d, want %d", n, size)
	}
	var rows, hashRows int
	if err := connect(t, dsn).QueryRow(ctx, `SELECT (SELECT count(*) FROM entry_batches), (SELECT count(*) FROM hash_batches)`).
		Scan(&rows, &hashRows); err != nil {
		t.Fatal(err)
	}
	if rows != 6 || hashRows != 6 {
		t.Errorf("%d rows of entries and %d of hashes, want 6 and 6 (1, 3, 1, 1)", rows, hashRows)
	}

	edges := []int64{0, 2, 3, 4, 3 + rowEntries - 1, 3 + rowEntries, 3 + 2*rowEntries, 3 + 2*rowEntries + 4,
		3 + 2*rowEntries + 5, size - 8, size - 7, size - 1}
	for _, i := range edges {
		e, err := db.Entry(ctx, i)
		if err != nil || e != want[i] {
			t.Errorf("Entry(%d) = %+v, %v; want %+v", i, e, err, want[i])
		}
	}
	var hashIndexes []int64
	for _, i := range edges {
		x := merkle.StoredHashCount(i)
		hashIndexes = append(hashIndexes, max(0, x-1), x, min(x+1, int64(len(wantHashes))-1))
	}
	got, err := db.ReadHashes(ctx, hashIndexes)
	if err != nil {
		t.Fatal(err)
	}
	for k, x := range hashIndexes {
		if got[k] != wantHashes[x] {
			t.Errorf("hash %d = %v, want %v", x, got[k], wantHashes[x])
		}
	}
	for _, from := range []int64{0, 3 + rowEntries + 17, size - 1} {
		n := from
		err := db.ScanEntries(ctx, from, func(e notary.Entry) error {
			if e != want[n] {
				return fmt.Errorf("scanned %+v, want %+v", e, want[n])
			}
			n++
			return nil
		})
		if err != nil || n != size {
			t.Errorf("ScanEntries from %d: %v after %d entries, want %d", from, err, n-from, size-from)
		}
	}

	t.Run("refused", func(t *testing.T) {
		// A batch of several rows out of sequence, or failing in its last row, writes nothing.
		es, hs := fakeBatch(size-1, rowEntries+2)
		if err := db.AppendEntries(ctx, es, hs); !errors.Is(err, service.ErrOutOfSequence) {
			t.Errorf("overlapping batch of two rows: %v, want ErrOutOfSequence", err)
		}
		es, hs = fakeBatch(size, rowEntries+2)
		failInsert(t, dsn, "hash_batches", fmt.Sprintf("NEW.first = %d", merkle.StoredHashCount(size+rowEntries)))
		if err := db.AppendEntries(ctx, es, hs); err == nil {
			t.Error("AppendEntries succeeded despite the trigger on its last row")
		}
		if n := logSize(t, db); n != size {
			t.Fatalf("log size %d after refused appends, want %d", n, size)
		}
		if _, err := db.Entry(ctx, size); !errors.Is(err, service.ErrNotFound) {
			t.Fatalf("an entry of a refused append was stored: %v", err)
		}
	})
}

// TestConcurrentWriters has two processes (two DBs) append at the same size at once, as
// two sequencers that both believe they lead would: one wins, the other gets
// ErrOutOfSequence and writes nothing, whoever starts first and whatever the sizes.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		sizes  [2]int
		stalls bool // both wait on the head until a third connection lets go
	}{
		{"one and one, racing", [2]int{1, 1}, false},
		{"one and one, released together", [2]int{1, 1}, true},
		{"40 and 8192, released together", [2]int{40, 8192}, true},
		{"two rows and one, released together", [2]int{rowEntries + 1, 1}, true},
		{"two rows and two rows, racing", [2]int{rowEntries + 1, rowEntries + 2}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dsn := pgtest.Shared(t)
			dbs := [2]*DB{openDSN(t, dsn), openDSN(t, dsn)}
			var logs [2]testLog
			base := 10
			for k := range dbs {
				logs[k].seed = fmt.Sprintf("writer %d", k)
				es, hs := logs[k].grow(t, base)
				if k == 0 {
					if err := dbs[0].AppendEntries(ctx, es, hs); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Both logs share the first entries: writer 1 takes writer 0's.
			logs[1] = testLog{seed: logs[1].seed, entries: slices.Clone(logs[0].entries), hashes: slices.Clone(logs[0].hashes)}
			var batches [2]struct {
				entries []notary.Entry
				hashes  []merkle.Hash
			}
			for k := range dbs {
				batches[k].entries, batches[k].hashes = logs[k].grow(t, c.sizes[k])
			}

			var blocker pgx.Tx
			if c.stalls {
				conn := connect(t, dsn)
				var err error
				if blocker, err = conn.Begin(ctx); err != nil {
					t.Fatal(err)
				}
				exec(t, conn, `UPDATE log_head SET epoch = epoch`)
			}
			start := make(chan struct{})
			var errs [2]error
			var wg sync.WaitGroup
			for k := range dbs {
				wg.Go(func() {
					<-start
					errs[k] = dbs[k].AppendEntries(ctx, batches[k].entries, batches[k].hashes)
				})
			}
			close(start)
			if c.stalls {
				waitForLockWaiters(t, dsn, 2)
				if err := blocker.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()

			winner := -1
			for k, err := range errs {
				switch {
				case err == nil && winner < 0:
					winner = k
				case err == nil:
					t.Fatal("both appends succeeded")
				case !errors.Is(err, service.ErrOutOfSequence):
					t.Fatalf("writer %d: %v, want nil or ErrOutOfSequence", k, err)
				}
			}
			if winner < 0 {
				t.Fatalf("no append succeeded: %v", errs)
			}
			checkLog(t, dbs[1-winner], &logs[winner])
		})
	}
}

// waitForLockWaiters waits until n connections to the database at dsn wait for a lock.
func waitForLockWaiters(t *testing.T, dsn string, n int) {
	t.Helper()
	conn := connect(t, dsn)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections wait for a lock after 30s, want %d", waiting, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkLog checks that db holds exactly the log l: its size, entries and hashes.
func checkLog(t *testing.T, db *DB, l *testLog) {
	t.Helper()
	ctx := context.Background()
	if n := logSize(t, db); n != int64(len(l.entries)) {
		t.Fatalf("log size %d, want %d", n, len(l.entries))
	}
	k := 0
	err := db.ScanEntries(ctx, 0, func(e notary.Entry) error {
		if e != l.entries[k] {
			return fmt.Errorf("entry %d = %+v, want %+v", k, e, l.entries[k])
		}
		k++
		return nil
	})
	if err != nil || k != len(l.entries) {
		t.Fatalf("ScanEntries: %v after %d entries, want %d", err, k, len(l.entries))
	}
	hs, err := db.ReadHashes(ctx, seq(0, int64(len(l.hashes))))
	if err != nil || !slices.Equal(hs, l.hashes) {
		t.Fatalf("stored hashes differ from the log's (%v)", err)
	}
	if _, err := db.ReadHashes(ctx, []int64{int64(len(l.hashes))}); !errors.Is(err, service.ErrNotFound) {
		t.Fatalf("a hash beyond the log: %v, want ErrNotFound", err)
	}
	size := int64(len(l.entries))
	root, err := merkle.TreeHash(size, service.HashReader(ctx, db))
	if want, _ := merkle.TreeHash(size, l); err != nil || root != want {
		t.Fatalf("tree hash from the store = %v, %v; want %v", root, err, want)
	}
}

func TestEntry(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	var l testLog
	appendLog(t, db, &l, 100, 1, 199)

	for _, i := range []int64{0, 1, 99, 100, 101, 150, 299} {
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
			if !strings.HasPrefix(err.Error(), "store/postgres: ") {
				t.Errorf("error %q lacks the store/postgres: prefix", err)
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

// TestNothingWaitsForWriters: reads do not wait for an append in progress, and appends
// do not wait for indexing in progress.
func TestNothingWaitsForWriters(t *testing.T) {
	db, dsn := openTest(t)
	var l testLog
	appendLog(t, db, &l, 10)
	if err := db.IndexDigests(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveCheckpoint(context.Background(), checkpointOf(t, &l, 10)); err != nil {
		t.Fatal(err)
	}

	hold := func(t *testing.T, sql string) {
		t.Helper()
		conn := connect(t, dsn)
		tx, err := conn.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback(context.Background()) })
		if _, err := tx.Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}
	deadline := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t.Cleanup(cancel)
		return ctx
	}

	t.Run("reads during an append", func(t *testing.T) {
		hold(t, `UPDATE log_head SET size = size + 1, hashes = hashes + 1`)
		ctx := deadline(t)
		for _, read := range []struct {
			name string
			f    func() error
		}{
			{"LogSize", func() error { _, err := db.LogSize(ctx); return err }},
			{"Entry", func() error { _, err := db.Entry(ctx, 3); return err }},
			{"ReadHashes", func() error { _, err := db.ReadHashes(ctx, []int64{0, 5}); return err }},
			{"ScanEntries", func() error { return db.ScanEntries(ctx, 0, func(notary.Entry) error { return nil }) }},
			{"IndexedSize", func() error { _, err := db.IndexedSize(ctx); return err }},
			{"LookupDigests", func() error { return db.LookupDigests(ctx, []notary.Digest{l.entries[0].Digest}, make([]int64, 1)) }},
			{"LatestCheckpoint", func() error { _, err := db.LatestCheckpoint(ctx); return err }},
			{"LoadAnchorState", func() error { _, _, err := db.LoadAnchorState(ctx); return err }},
			{"Ping", func() error { return db.Ping(ctx) }},
		} {
			if err := read.f(); err != nil {
				t.Errorf("%s: %v", read.name, err)
			}
		}
		if n := logSize(t, db); n != 10 {
			t.Errorf("log size %d while an append is uncommitted, want 10", n)
		}
	})

	t.Run("append during indexing", func(t *testing.T) {
		hold(t, `SELECT size FROM digest_index_head FOR UPDATE`)
		es, hs := l.grow(t, 5)
		if err := db.AppendEntries(deadline(t), es, hs); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDigestIndex(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)

	// Entries 3 and 7 repeat the digests of entries 1 and 2; entry 12 that of entry 7,
	// in a later chunk: the index keeps each digest's first entry.
	var l testLog
	es, hs := l.grow(t, 15)
	for _, r := range [][2]int{{3, 1}, {7, 2}, {12, 2}} {
		es[r[0]].Digest = es[r[1]].Digest
	}
	if err := db.AppendEntries(ctx, es[:10], hs[:merkle.StoredHashCount(10)]); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendEntries(ctx, es[10:], hs[merkle.StoredHashCount(10):]); err != nil {
		t.Fatal(err)
	}
	// Chunks that start and end inside the rows of entries.
	for _, through := range []int64{4, 11, 15} {
		if err := db.IndexDigests(ctx, through); err != nil {
			t.Fatal(err)
		}
	}
	ds := []notary.Digest{es[1].Digest, es[2].Digest, es[14].Digest, es[10].Digest, {}}
	got := make([]int64, len(ds))
	if err := db.LookupDigests(ctx, ds, got); err != nil {
		t.Fatal(err)
	}
	if want := []int64{1, 2, 14, 10, -1}; !slices.Equal(got, want) {
		t.Errorf("LookupDigests = %v, want %v", got, want)
	}

	for _, c := range []struct {
		name    string
		through int64
	}{{"beyond the log", 16}, {"backwards", 14}} {
		err := db.IndexDigests(ctx, c.through)
		if err == nil || !strings.HasPrefix(err.Error(), "store/postgres: ") {
			t.Errorf("IndexDigests %s: %v, want a store/postgres: error", c.name, err)
		}
	}
	if err := db.IndexDigests(ctx, 15); err != nil {
		t.Errorf("IndexDigests to where the index is: %v", err)
	}
	if err := db.LookupDigests(ctx, ds, got[:2]); err == nil {
		t.Error("LookupDigests with fewer indexes than digests: no error")
	}
}

// TestChosenDigestsSpread: digests that share their first 8 bytes, as a client may choose
// them, get keys of their own, so that a lookup of one reads no entry of the others. (That
// they are each found is the contract suite's DigestIndexSharedPrefix.)
func TestChosenDigestsSpread(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	const n = 2000
	entries, hashes := fakeBatch(0, n)
	for k := range entries {
		copy(entries[k].Digest[:8], "chosen!!")
	}
	if err := db.AppendEntries(ctx, entries, hashes); err != nil {
		t.Fatal(err)
	}
	if err := db.IndexDigests(ctx, n); err != nil {
		t.Fatal(err)
	}
	var keys int
	if err := db.pool.QueryRow(ctx, `SELECT count(DISTINCT key) FROM digests`).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if keys != n {
		t.Fatalf("%d digests sharing 8 bytes have %d keys", n, keys)
	}
}

// TestLookupPlanProbesIndex holds the digest lookup to an index probe per digest, as the
// planner's generic plan (the one a prepared statement settles on) too, on a table it has
// no statistics of: a plan that scans the digest index's table costs every lookup the
// whole table.
func TestLookupPlanProbesIndex(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	entries, hashes := fakeBatch(0, 5000)
	if err := db.AppendEntries(ctx, entries, hashes); err != nil {
		t.Fatal(err)
	}
	if err := db.IndexDigests(ctx, 5000); err != nil {
		t.Fatal(err)
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, `RESET plan_cache_mode`)
	if _, err := conn.Exec(ctx, `PREPARE lookup_plan(bigint[], bytea[]) AS `+lookupDigests); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, `DEALLOCATE lookup_plan`)
	rows, err := conn.Query(ctx, `EXPLAIN EXECUTE lookup_plan('{1,2,3}', '{"\\x00","\\x01","\\x02"}')`)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if strings.Contains(text, "Seq Scan on digests") || !strings.Contains(text, "digests_key") {
		t.Errorf("the lookup is not planned as a probe of digests_key per digest:\n%s", text)
	}
}
