package api_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/strictjson"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// getAsync starts a GET and returns a channel that receives its answer and how long it took.
func getAsync(t *testing.T, url string) <-chan timedReply {
	ch := make(chan timedReply, 1)
	start := time.Now()
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			ch <- timedReply{err: err}
			return
		}
		defer resp.Body.Close()
		var ts timestampReply
		err = decodeStrict(resp, &ts)
		ch <- timedReply{status: resp.StatusCode, ts: ts, took: time.Since(start), err: err}
	}()
	return ch
}

type timedReply struct {
	status int
	ts     timestampReply
	took   time.Duration
	err    error
}

func decodeStrict(resp *http.Response, v any) error {
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return strictjson.Decode(b, v)
}

// receive returns the answer from ch, failing the test if there is none after patience.
func receive(t *testing.T, ch <-chan timedReply) timedReply {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil || r.status != 200 {
			t.Fatalf("status %d, %v", r.status, r.err)
		}
		return r
	case <-time.After(patience):
		t.Fatalf("no answer within %v", patience)
	}
	panic("unreachable")
}

// answered fails the test if ch has an answer already.
func answered(t *testing.T, ch <-chan timedReply, what string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s: answered %s", what, r.ts.Status)
	default:
	}
}

// TestLongPoll checks ?wait= and ?since= without timing the machine. The test knows that a
// poll is waiting from the fake chain, whose status reads it counts: a poll reads the status
// of its entry before each wait (and once more, without since, to learn the status it waits
// to change from), then once for its answer. A poll that must wake on a change is given the
// longest wait, MaxWait, so that an answer before it is a wake and not a time-out.
func TestLongPoll(t *testing.T) {
	f := newFull(t, fullConfig{stack: stackConfig{CheckpointInterval: 5 * time.Millisecond}})
	ds, cp := logOf(t, f.stack, 3)
	d := ds[1].String()
	wait := fmt.Sprintf("wait=%d", int(api.MaxWait/time.Second))

	t.Run("times out with the same status", func(t *testing.T) {
		r := receive(t, getAsync(t, f.url+"/v1/timestamps/"+d+"?wait=1"))
		if r.ts.Status != service.StatusPending || r.took < time.Second || r.took >= api.MaxWait {
			t.Errorf("status %s after %v, want pending after 1 s (not after the longest wait)", r.ts.Status, r.took)
		}
	})
	t.Run("no wait answers at once", func(t *testing.T) {
		for _, q := range []string{"", "?wait=0", "?since=pending"} {
			before := f.chain.readsOf(1)
			r := receive(t, getAsync(t, f.url+"/v1/timestamps/"+d+q))
			if n := f.chain.readsOf(1) - before; r.ts.Status != service.StatusPending || n != 1 {
				t.Errorf("%q: status %s after %d reads of the status, want pending after the one read of its answer (no wait)", q, r.ts.Status, n)
			}
		}
	})

	t.Run("wakes when the status changes", func(t *testing.T) {
		logOf(t, f.stack, 1) // entry cp.Size, which the anchors below do not cover
		reads1, reads0, readsOut := f.chain.readsOf(1), f.chain.readsOf(0), f.chain.readsOf(cp.Size)
		byDigest := getAsync(t, f.url+"/v1/timestamps/"+d+"?"+wait)
		byIndex := getAsync(t, f.url+"/v1/entries/0?"+wait+"&since=pending")
		unaffected := getAsync(t, fmt.Sprintf("%s/v1/entries/%d?wait=2&since=pending", f.url, cp.Size)) // not covered
		// byDigest reads its status now, then before it waits; the others only before.
		f.chain.waitReads(t, 1, reads1+2)
		f.chain.waitReads(t, 0, reads0+1)
		f.chain.waitReads(t, cp.Size, readsOut+1)
		// An anchor that is only signed changes nothing: the waits go on.
		f.chain.set(anchorOf(cp, service.AnchorSigned, 1))
		f.chain.waitReads(t, 1, reads1+3) // woken, read again, waiting again
		f.chain.waitReads(t, 0, reads0+2)
		answered(t, byDigest, "by digest, when the anchor was only signed")
		answered(t, byIndex, "by index, when the anchor was only signed")
		f.chain.set(anchorOf(cp, service.AnchorMempool, 1))
		for _, ch := range []<-chan timedReply{byDigest, byIndex} {
			r := receive(t, ch)
			if r.ts.Status != service.StatusAnchored || r.ts.Anchor == nil || r.ts.Anchor.Status != service.AnchorMempool {
				t.Errorf("status %s, anchor %+v", r.ts.Status, r.ts.Anchor)
			}
			if r.took >= api.MaxWait {
				t.Errorf("answered after %v: its wait ran out, the change did not wake it", r.took)
			}
		}
		if r := receive(t, unaffected); r.ts.Status != service.StatusPending || r.took < 2*time.Second {
			t.Errorf("an entry the anchor does not cover answered %s after %v", r.ts.Status, r.took)
		}
	})

	t.Run("since a status it no longer has answers at once", func(t *testing.T) {
		r := receive(t, getAsync(t, f.url+"/v1/timestamps/"+d+"?"+wait+"&since=pending"))
		if r.ts.Status != service.StatusAnchored || r.took >= api.MaxWait {
			t.Errorf("status %s after %v", r.ts.Status, r.took)
		}
	})

	t.Run("to confirmed", func(t *testing.T) {
		reads := f.chain.readsOf(1)
		ch := getAsync(t, f.url+"/v1/timestamps/"+d+"?"+wait+"&since=anchored")
		f.chain.waitReads(t, 1, reads+1) // waiting
		// Mined but not yet final: still anchored, and the wait goes on.
		f.chain.set(anchorOf(cp, service.AnchorConfirmed, 1))
		f.chain.waitReads(t, 1, reads+2)
		answered(t, ch, "when the anchor was mined but not final")
		f.chain.set(anchorOf(cp, service.AnchorFinal, 1))
		r := receive(t, ch)
		if r.ts.Status != service.StatusConfirmed || r.took >= api.MaxWait {
			t.Errorf("status %s after %v, want confirmed", r.ts.Status, r.took)
		}
		p, err := notary.ParseProof(r.ts.Proof)
		if err != nil || !p.Complete() {
			t.Errorf("proof complete: %v", err)
		}
	})

	t.Run("shutdown ends the wait", func(t *testing.T) {
		g := newFull(t, fullConfig{stack: stackConfig{CheckpointInterval: 5 * time.Millisecond}})
		ds, _ := logOf(t, g.stack, 1)
		ch := getAsync(t, g.url+"/v1/timestamps/"+ds[0].String()+"?"+wait)
		g.chain.waitReads(t, 0, 2) // waiting
		close(g.shutdown)
		r := receive(t, ch)
		if r.ts.Status != service.StatusPending || r.took >= api.MaxWait {
			t.Errorf("status %s after %v, want pending before the wait ran out", r.ts.Status, r.took)
		}
	})

	for _, q := range []string{"wait=61", "wait=-1", "wait=1.5", "wait=x", "wait=1&since=final", "wait=1&since=PENDING"} {
		t.Run("rejects "+q, func(t *testing.T) {
			wantError(t, do(t, http.DefaultClient, http.MethodGet, f.url+"/v1/timestamps/"+d+"?"+q, "", nil), 400, "bad_request")
		})
	}
	t.Run("unknown digest with wait", func(t *testing.T) {
		wantError(t, do(t, http.DefaultClient, http.MethodGet, f.url+"/v1/timestamps/"+randomDigest().String()+"?wait=5", "", nil), 404, "not_found")
	})
}
