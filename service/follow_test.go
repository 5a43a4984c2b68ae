package service_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// TestFollowerPollsWithoutWatcher follows a log on a store that cannot tell when its head
// moves (SQLite): the follower reads the head every FollowInterval and so sees what the
// writer commits, with nothing told.
func TestFollowerPollsWithoutWatcher(t *testing.T) {
	db := openStore(t, filepath.Join(t.TempDir(), "notary.db"))
	if _, ok := any(db).(service.HeadWatcher); ok {
		t.Fatal("the SQLite store is a HeadWatcher; this test needs a store that is not")
	}
	w := start(t, newService(t, testConfig(t, db)))
	fcfg := testConfig(t, db)
	f, err := service.NewFollower(context.Background(), fcfg)
	if err != nil {
		t.Fatal(err)
	}
	start(t, f)
	for k, d := range digests("polled", 3) {
		ts, err := w.Submit(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the follower to see the entry", func() bool { return f.Size() > ts.Entry.Index })
		if got := f.Size(); got != int64(k+1) {
			t.Errorf("follower's size %d, want %d", got, k+1)
		}
	}
	st := f.FollowStats()
	if st.Watching || st.Notifications != 0 || st.Lost != 0 || st.Reads < 2 {
		t.Errorf("follow stats %+v: want polls only, not watching, nothing told", st)
	}
	if (w.FollowStats() != service.FollowStats{}) {
		t.Errorf("the writer's follow stats %+v, want zeros", w.FollowStats())
	}
}

// TestFollowerIndexBehind: while the digest index lags the log by more than MaxUnindexed,
// as when the writer rebuilds it, a follower does not answer "not found" for a digest it
// cannot find, since it may be among the entries not indexed yet; once the index catches
// up, it finds logged digests and answers not found for others.
func TestFollowerIndexBehind(t *testing.T) {
	ctx := context.Background()
	db := openStore(t, filepath.Join(t.TempDir(), "notary.db"))
	newService(t, testConfig(t, db)) // signs the empty log's checkpoint
	log := &logtest.MemLog{}
	for _, d := range digests("behind", 40) {
		log.Append(t, notary.Entry{Index: int64(len(log.Entries)), Digest: d, Time: time.UnixMilli(1_700_000_000_000).UTC()})
	}
	appendDirect(t, db, log, 0)
	fcfg := testConfig(t, db)
	fcfg.MaxUnindexed = 10
	f, err := service.NewFollower(ctx, fcfg)
	if err != nil {
		t.Fatal(err)
	}
	start(t, f)
	logged, never := log.Entries[30].Digest, digests("never", 1)[0]
	for _, d := range []notary.Digest{logged, never} {
		if _, ok, err := f.EntryOf(ctx, d); !errors.Is(err, service.ErrIndexBehind) {
			t.Fatalf("EntryOf(%s) with 40 entries unindexed = %v, %v; want ErrIndexBehind", d, ok, err)
		}
	}
	if err := db.IndexDigests(ctx, 35); err != nil { // 5 left: within MaxUnindexed
		t.Fatal(err)
	}
	eventually(t, "the follower to see the index move", func() bool {
		_, _, err := f.EntryOf(ctx, never)
		return !errors.Is(err, service.ErrIndexBehind)
	})
	if _, ok, err := f.EntryOf(ctx, never); err != nil || ok {
		t.Fatalf("EntryOf of a digest never logged = %v, %v; want not found", ok, err)
	}
	if e, ok, err := f.EntryOf(ctx, logged); err != nil || !ok || e.Index != 30 {
		t.Fatalf("EntryOf of entry 30's digest = %v, %v, %v", e.Index, ok, err)
	}
}
