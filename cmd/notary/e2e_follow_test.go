package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/pgtest"
	"github.com/notary-dev/notary/notary"
)

// TestE2EFollowerTakesOver runs two processes on one PostgreSQL database: the first is
// elected writer, the second follows, forwards submissions to it and serves lookups; a
// digest sent through both at once gets one entry; when the first stops, the second is
// elected and writes on from where it left off.
func TestE2EFollowerTakesOver(t *testing.T) {
	t.Parallel()
	db := pgtest.Shared(t)
	c := startChain(t)
	first := startStack(t, c, stackOptions{db: db})
	c2 := &chain{node: c.node, data: t.TempDir()}
	for _, key := range []string{"log.key", "bitcoin.key", "webhook.key"} {
		data, err := os.ReadFile(filepath.Join(c.data, key))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c2.data, key), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	second := startStack(t, c2, stackOptions{db: db})
	if !second.svc.Follower() || first.svc.Follower() {
		t.Fatalf("first follows: %v, second follows: %v; want the first to write", first.svc.Follower(), second.svc.Follower())
	}
	st := followStatus(t, second.url)
	if st.Writer == nil || st.Writer.URL != first.url || st.Writer.ThisProcess {
		t.Fatalf("the follower's status names the writer %+v, want %s", st.Writer, first.url)
	}
	// The database tells the follower of every commit; nothing tells the writer.
	waitFor(t, waitLimit, "the database to tell the follower of commits", func() (bool, error) {
		return followStatus(t, second.url).FollowerLag.Watching, nil
	})
	if m := getText(t, second.url+"/metrics"); !strings.Contains(m, "\nnotary_follower_watching 1\n") {
		t.Error("the follower's /metrics has no notary_follower_watching 1")
	}
	if followStatus(t, first.url).FollowerLag.Watching {
		t.Error("the writer's /v1/status says the database tells it of commits (follower_lag.watching)")
	}

	// The same digests sent at once through both processes: one entry each.
	same := make([]notary.Digest, 20)
	for i := range same {
		same[i] = randomDigest(t)
	}
	answers := make([][2]api.TimestampView, len(same))
	var wg sync.WaitGroup
	for i, d := range same {
		for k, base := range []string{first.url, second.url} {
			wg.Go(func() { answers[i][k] = mustSubmit(t, base, d) })
		}
	}
	wg.Wait()
	for i, a := range answers {
		if a[0].Index != a[1].Index || a[0].ReceivedMS != a[1].ReceivedMS || a[0].LeafHash != a[1].LeafHash {
			t.Errorf("digest %s sent through both processes at once: entries %d and %d", same[i], a[0].Index, a[1].Index)
		}
	}

	through := randomDigest(t)
	r := mustSubmit(t, second.url, through) // forwarded
	waitFor(t, waitLimit, "the follower to find the digest", func() (bool, error) {
		got, err := lookup(second.url, through)
		return err == nil && got.Index == r.Index, nil
	})

	first.stop(t)
	waitFor(t, waitLimit, "the follower to be elected", func() (bool, error) {
		st := followStatus(t, second.url)
		return st.Writer != nil && st.Writer.ThisProcess, nil
	})
	after := randomDigest(t)
	waitFor(t, waitLimit, "a submission to the new writer", func() (bool, error) {
		_, err := submit(second.url, after)
		return err == nil, nil
	})
	if got := mustLookup(t, second.url, after); got.Index != r.Index+1 {
		t.Errorf("the new writer logged the next digest at %d, want %d", got.Index, r.Index+1)
	}
	if got := mustSubmit(t, second.url, through); got.Index != r.Index {
		t.Errorf("a digest of the first writer, submitted again, got index %d, want %d", got.Index, r.Index)
	}
}

func followStatus(t *testing.T, base string) api.StatusView {
	t.Helper()
	resp, err := httpClient.Get(base + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v api.StatusView
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/status: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}
