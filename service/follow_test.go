package service_test

import (
	"context"
	"path/filepath"
	"testing"

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
