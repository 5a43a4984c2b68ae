package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

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
	var b []byte
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return strictJSON(b, v)
}

func receive(t *testing.T, ch <-chan timedReply, within time.Duration) timedReply {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil || r.status != 200 {
			t.Fatalf("status %d, %v", r.status, r.err)
		}
		return r
	case <-time.After(within):
		t.Fatalf("no answer within %v", within)
	}
	panic("unreachable")
}

func TestLongPoll(t *testing.T) {
	f := newFull(t, fullConfig{stack: stackConfig{CheckpointInterval: 5 * time.Millisecond}})
	ds, cp := logOf(t, f.stack, 3)
	d := ds[1].String()

	t.Run("times out with the same status", func(t *testing.T) {
		r := receive(t, getAsync(t, f.url+"/v1/timestamps/"+d+"?wait=1"), 5*time.Second)
		if r.ts.Status != service.StatusPending || r.took < time.Second || r.took > 3*time.Second {
			t.Errorf("status %s after %v, want pending after about 1 s", r.ts.Status, r.took)
		}
	})
	t.Run("no wait answers at once", func(t *testing.T) {
		for _, q := range []string{"", "?wait=0", "?since=pending"} {
			r := receive(t, getAsync(t, f.url+"/v1/timestamps/"+d+q), 5*time.Second)
			if r.took > 500*time.Millisecond {
				t.Errorf("%q took %v", q, r.took)
			}
		}
	})

	t.Run("wakes when the status changes", func(t *testing.T) {
		logOf(t, f.stack, 1) // entry cp.Size, which the anchors below do not cover
		byDigest := getAsync(t, f.url+"/v1/timestamps/"+d+"?wait=30")
		byIndex := getAsync(t, f.url+"/v1/entries/1?wait=30&since=pending")
		unaffected := getAsync(t, fmt.Sprintf("%s/v1/entries/%d?wait=2&since=pending", f.url, cp.Size)) // not covered
		time.Sleep(200 * time.Millisecond)
		// An anchor that is only signed changes nothing: the waits go on.
		f.chain.set(anchorOf(cp, service.AnchorSigned, 1))
		time.Sleep(200 * time.Millisecond)
		select {
		case r := <-byDigest:
			t.Fatalf("answered %s when the anchor was only signed", r.ts.Status)
		default:
		}
		start := time.Now()
		f.chain.set(anchorOf(cp, service.AnchorMempool, 1))
		for _, ch := range []<-chan timedReply{byDigest, byIndex} {
			r := receive(t, ch, 5*time.Second)
			if r.ts.Status != service.StatusAnchored || r.ts.Anchor == nil || r.ts.Anchor.Status != service.AnchorMempool {
				t.Errorf("status %s, anchor %+v", r.ts.Status, r.ts.Anchor)
			}
			if time.Since(start) > time.Second {
				t.Errorf("answered %v after the change", time.Since(start))
			}
		}
		if r := receive(t, unaffected, 5*time.Second); r.ts.Status != service.StatusPending || r.took < 2*time.Second {
			t.Errorf("an entry the anchor does not cover answered %s after %v", r.ts.Status, r.took)
		}
	})

	t.Run("since a status it no longer has answers at once", func(t *testing.T) {
		r := receive(t, getAsync(t, f.url+"/v1/timestamps/"+d+"?wait=30&since=pending"), 5*time.Second)
		if r.ts.Status != service.StatusAnchored || r.took > time.Second {
			t.Errorf("status %s after %v", r.ts.Status, r.took)
		}
	})

	t.Run("to confirmed", func(t *testing.T) {
		ch := getAsync(t, f.url+"/v1/timestamps/"+d+"?wait=30&since=anchored")
		time.Sleep(100 * time.Millisecond)
		f.chain.set(anchorOf(cp, service.AnchorConfirmed, 1))
		time.Sleep(100 * time.Millisecond)
		f.chain.set(anchorOf(cp, service.AnchorFinal, 1))
		r := receive(t, ch, 5*time.Second)
		if r.ts.Status != service.StatusConfirmed {
			t.Errorf("status %s, want confirmed", r.ts.Status)
		}
		p, err := notary.ParseProof(r.ts.Proof)
		if err != nil || !p.Complete() {
			t.Errorf("proof complete: %v", err)
		}
	})

	t.Run("shutdown ends the wait", func(t *testing.T) {
		g := newFull(t, fullConfig{stack: stackConfig{CheckpointInterval: 5 * time.Millisecond}})
		ds, _ := logOf(t, g.stack, 1)
		ch := getAsync(t, g.url+"/v1/timestamps/"+ds[0].String()+"?wait=60")
		time.Sleep(200 * time.Millisecond)
		close(g.shutdown)
		r := receive(t, ch, 5*time.Second)
		if r.ts.Status != service.StatusPending || r.took > 2*time.Second {
			t.Errorf("status %s after %v", r.ts.Status, r.took)
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
