package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// waitFor waits until cond holds; a minute without is a hang, not a slow machine.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// nextNotification waits for the next notification conn receives on headChannel.
func nextNotification(t testing.TB, conn *pgx.Conn, after string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := conn.WaitForNotification(ctx)
	if err != nil {
		t.Fatalf("no notification on %s after %s: %v", headChannel, after, err)
	}
	if n.Channel != headChannel {
		t.Fatalf("after %s: a notification on channel %q", after, n.Channel)
	}
}

// TestHeadNotifications checks what a DB notifies, as a listener of another program sees
// it: a notification after every commit that moves the log's size, a checkpoint, the
// digest index or the witnessed checkpoints; and the commits of a busy writer told of
// together, not one by one.
func TestHeadNotifications(t *testing.T) {
	ctx := t.Context()
	db, dsn := openTest(t)
	listener := connect(t, dsn)
	exec(t, listener, "LISTEN "+headChannel)

	if _, err := db.Lead(ctx); err != nil {
		t.Fatal(err)
	}
	entries, hashes := fakeBatch(0, 3)
	if err := db.AppendEntries(ctx, entries, hashes); err != nil {
		t.Fatal(err)
	}
	nextNotification(t, listener, "an append")
	cp := notary.Checkpoint{Size: 3, Origin: "example.com/log", Root: merkle.Hash{1}, Note: []byte("checkpoint of 3\n")}
	if err := db.SaveCheckpoint(ctx, cp); err != nil {
		t.Fatal(err)
	}
	nextNotification(t, listener, "a checkpoint")
	if err := db.IndexDigests(ctx, 3); err != nil {
		t.Fatal(err)
	}
	nextNotification(t, listener, "indexing")
	if err := db.SaveWitnessed(ctx, cp, true); err != nil {
		t.Fatal(err)
	}
	nextNotification(t, listener, "saving the witnessed checkpoints")

	// 200 appends in a row: fewer notifications than appends, and one after the last.
	const appends = 200
	start := time.Now()
	for k := range int64(appends) {
		entries, hashes := fakeBatch(3+k, 1)
		if err := db.AppendEntries(ctx, entries, hashes); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(start)
	nextNotification(t, listener, "200 appends")
	told := 1
	for {
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond) // what was sent is here by then
		_, err := listener.WaitForNotification(wctx)
		cancel()
		if err != nil {
			break
		}
		told++
	}
	t.Logf("%d notifications for %d appends in %v", told, appends, took)
	if max := int(took/notifyEvery) + 2; told > max || told >= appends {
		t.Errorf("%d notifications for %d appends in %v, want at most one every %v (%d)", told, appends, took, notifyEvery, max)
	}
}

// watchEvents records what WatchHead tells.
type watchEvents struct {
	mu                    sync.Mutex
	watching, moved, lost int
	lastErr               error
}

func (w *watchEvents) events() service.HeadEvents {
	locked := func(f func()) {
		w.mu.Lock()
		defer w.mu.Unlock()
		f()
	}
	return service.HeadEvents{
		Watching: func() { locked(func() { w.watching++ }) },
		Moved:    func() { locked(func() { w.moved++ }) },
		Lost:     func(err error) { locked(func() { w.lost++; w.lastErr = err }) },
	}
}

func (w *watchEvents) counts() (watching, moved, lost int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.watching, w.moved, w.lost
}

// TestWatchHead checks the watcher itself: it says when it watches, reports a commit
// that moves the head, refuses to run twice on one handle, says why it lost its
// connection when it is terminated and listens again, and returns nil once its context
// is done.
func TestWatchHead(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	db, dsn := openTest(t)
	writer := openDSN(t, dsn)
	var ev watchEvents
	done := make(chan error, 1)
	go func() { done <- db.WatchHead(ctx, ev.events()) }()
	waitFor(t, "the watcher to listen", func() bool { w, _, _ := ev.counts(); return w == 1 })

	if err := db.WatchHead(ctx, service.HeadEvents{}); !errors.Is(err, ErrWatching) {
		t.Errorf("a second WatchHead on the same handle: %v, want ErrWatching", err)
	}
	entries, hashes := fakeBatch(0, 2)
	if err := writer.AppendEntries(ctx, entries, hashes); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the append to be told", func() bool { _, m, _ := ev.counts(); return m >= 1 })

	killListener(t, db)
	waitFor(t, "the watcher to listen again", func() bool { w, _, l := ev.counts(); return w >= 2 && l >= 1 })
	_, moved, _ := ev.counts()
	entries, hashes = fakeBatch(2, 1)
	if err := writer.AppendEntries(ctx, entries, hashes); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the next append to be told", func() bool { _, m, _ := ev.counts(); return m > moved })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("WatchHead after its context was canceled: %v, want nil", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("WatchHead did not return a minute after its context was canceled")
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.lastErr == nil {
		t.Error("Lost was told no reason")
	}
}

// killListener terminates the session that listens for the log's head in db's database,
// as an operator or a failing server would, and checks there was one.
func killListener(t testing.TB, db *DB) {
	t.Helper()
	var n int
	err := db.pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = $1`, "LISTEN "+headChannel).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("terminated %d listening sessions, want 1", n)
	}
}

// startFollower starts a follower of the log in db, which reads the log's head when the
// database says it moved and else only once an hour: a follower that sees a commit within
// the test saw it by being told. It is stopped when the test ends.
func startFollower(t testing.TB, db *DB) *service.Service {
	t.Helper()
	f := runFollower(t, db, time.Hour)
	// Told it watches, it reads the head once; after that read only moves make it read.
	waitFor(t, "the follower to watch the head", func() bool {
		st := f.FollowStats()
		return st.Watching && st.Reads >= 2
	})
	return f
}

// runFollower runs a follower of the log in store that reads the head every interval
// (0: the default) until the test ends.
func runFollower(t testing.TB, store service.Store, interval time.Duration) *service.Service {
	t.Helper()
	f, err := service.NewFollower(t.Context(), service.Config{
		Signer:         logtest.Signer(t, logtest.LogSkey),
		Verifier:       logtest.LogVkey,
		Store:          store,
		FollowInterval: interval,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("follower's Run: %v", err)
		}
	})
	return f
}

// TestFollowerTold checks that a follower sees the writer's commits as the database tells
// of them, not by polling: its fallback interval is an hour, and it sees a new entry, the
// checkpoint that covers it and its digest in the index.
func TestFollowerTold(t *testing.T) {
	ctx := t.Context()
	db, dsn := openTest(t)
	w, _ := startService(t, db)
	f := startFollower(t, openDSN(t, dsn))
	before := f.FollowStats()

	for k := range int64(3) {
		d := logtest.Digest(1000 + k)
		ts, err := w.Submit(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("the follower to see entry %d", ts.Entry.Index), func() bool { return f.Size() > ts.Entry.Index })
		waitFor(t, "the follower to see a checkpoint that covers it", func() bool { return f.LatestCheckpoint().Size > ts.Entry.Index })
		waitFor(t, "the follower to find the digest", func() bool {
			got, err := f.Lookup(ctx, d)
			return err == nil && got.Entry.Index == ts.Entry.Index
		})
	}
	after := f.FollowStats()
	if after.Notifications <= before.Notifications || after.Lost != 0 || !after.Watching {
		t.Errorf("follow stats %+v after three submissions (before %+v): want more notifications, none lost, watching", after, before)
	}
}

// TestFollowerReconnects terminates the follower's listening session: the follower
// listens again and catches up with a commit made meanwhile, and then is told of the
// next one.
func TestFollowerReconnects(t *testing.T) {
	ctx := t.Context()
	db, dsn := openTest(t)
	w, _ := startService(t, db)
	fdb := openDSN(t, dsn)
	f := startFollower(t, fdb)

	killListener(t, fdb)
	ts, err := w.Submit(ctx, logtest.Digest(1))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower to catch up", func() bool { return f.Size() > ts.Entry.Index })
	waitFor(t, "the follower to watch again", func() bool { st := f.FollowStats(); return st.Watching && st.Lost >= 1 })
	told := f.FollowStats().Notifications
	ts, err = w.Submit(ctx, logtest.Digest(2))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower to see the next entry", func() bool { return f.Size() > ts.Entry.Index })
	if st := f.FollowStats(); st.Notifications <= told {
		t.Errorf("follow stats %+v: the entry after the reconnection was not told (%d notifications before)", st, told)
	}
}

// TestFollowerServesOnlyCommitted checks that a notification is only a hint: told of a
// head that a transaction has moved but not committed, and of one that no transaction
// made (a payload naming a size the log does not have), the follower reads the head
// again and serves what is committed.
func TestFollowerServesOnlyCommitted(t *testing.T) {
	ctx := t.Context()
	db, dsn := openTest(t)
	entries, hashes := fakeBatch(0, 5)
	if err := db.AppendEntries(ctx, entries, hashes); err != nil {
		t.Fatal(err)
	}
	f := startFollower(t, openDSN(t, dsn))
	if f.Size() != 5 {
		t.Fatalf("follower's size %d, want 5", f.Size())
	}

	// A transaction moves the head and does not commit while a notification comes.
	open := connect(t, dsn)
	tx, err := open.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE log_head SET size = 1000, hashes = 1999`); err != nil {
		t.Fatal(err)
	}
	st := f.FollowStats()
	exec(t, connect(t, dsn), `SELECT pg_notify($1, 'log 999999')`, headChannel)
	waitFor(t, "the follower to read the head after the notification", func() bool {
		now := f.FollowStats()
		return now.Notifications > st.Notifications && now.Reads > st.Reads
	})
	if n := f.Size(); n != 5 {
		t.Fatalf("follower's size %d after a notification and an uncommitted move, want 5", n)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	entries, hashes = fakeBatch(5, 2)
	if err := db.AppendEntries(ctx, entries, hashes); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower to see the commit", func() bool { return f.Size() == 7 })
}
