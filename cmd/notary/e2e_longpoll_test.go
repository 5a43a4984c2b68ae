package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/service"
)

// TestE2EShutdownEndsLongPolls checks that stopping the stack answers a long poll at once,
// with the current state, and still finishes a request in flight, rather than waiting a
// minute for the poll or cutting it off. "At once" is told apart from "after the poll's
// minute" by the HTTP server's own grace period (20 s), not by a clock in the test: a
// shutdown that waited for the poll runs out of it and logs so.
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
	// The poll has a connection of its own, not one kept alive from the submission (which the
	// shutdown would close as idle if it came before the poll was read), and tells when it has
	// sent the request.
	sent := make(chan struct{})
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(sent) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodGet, s.url+"/v1/timestamps/"+d.String()+"?wait=60", nil)
	if err != nil {
		t.Fatal(err)
	}
	polled := make(chan answer, 1)
	go func() {
		client := &http.Client{Timeout: waitLimit, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Do(req)
		if err != nil {
			polled <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		var a answer
		a.status, a.err = resp.StatusCode, json.NewDecoder(resp.Body).Decode(&a.ts)
		polled <- a
	}()
	select {
	case <-sent:
	case a := <-polled:
		t.Fatalf("the long poll failed before it was sent: %v", a.err)
	case <-time.After(waitLimit):
		t.Fatal("the long poll was not sent")
	}
	// The poll is in the service's hands once it waits there: the shutdown must end it.
	waitFor(t, waitLimit, "the long poll to wait", func() (bool, error) { return s.svc.LongPolls() == 1, nil })
	if m := getText(t, s.url+"/metrics"); !strings.Contains(m, "\nnotary_long_polls 1\n") {
		t.Error("/metrics does not count the long poll waiting (notary_long_polls 1)")
	}

	s.stop(t)
	if strings.Contains(s.logs.String(), `msg="http shutdown"`) {
		t.Errorf("the HTTP server's shutdown waited out its grace period with a long poll waiting:\n%s", s.logs.String())
	}
	select {
	case a := <-polled:
		if a.err != nil || a.status != http.StatusOK || a.ts.Status != service.StatusPending || a.ts.Digest != d.String() {
			t.Errorf("the long poll answered %d %+v, %v", a.status, a.ts, a.err)
		}
	case <-time.After(waitLimit):
		t.Fatal("the long poll was not answered at shutdown")
	}
}
