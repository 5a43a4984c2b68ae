package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/service"
)

// TestE2EShutdownEndsLongPolls checks that stopping the stack answers a long poll at once,
// with the current state, and still finishes a request in flight, rather than waiting a
// minute for the poll or cutting it off.
func TestE2EShutdownEndsLongPolls(t *testing.T) {
	t.Parallel()
	c := startChain(t)
	s := startStack(t, c, stackOptions{})
	d := randomDigest(t)
	mustSubmit(t, s.url, d)

	type answer struct {
		status int
		ts     api.TimestampView
		err    error
	}
	polled := make(chan answer, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 90 * time.Second}).Get(s.url + "/v1/timestamps/" + d.String() + "?wait=60")
		if err != nil {
			polled <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		var a answer
		a.status, a.err = resp.StatusCode, json.NewDecoder(resp.Body).Decode(&a.ts)
		polled <- a
	}()
	time.Sleep(300 * time.Millisecond) // the poll is waiting
	start := time.Now()
	s.stop(t)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the stack took %v to stop with a long poll waiting", took)
	}
	select {
	case a := <-polled:
		if a.err != nil || a.status != http.StatusOK || a.ts.Status != service.StatusPending || a.ts.Digest != d.String() {
			t.Errorf("the long poll answered %d %+v, %v", a.status, a.ts, a.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the long poll was not answered at shutdown")
	}
}
