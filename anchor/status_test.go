package anchor

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestNextAnchorAndNodeHeight(t *testing.T) {
	r := newFakeRig(t, nil)
	start := r.clock.Now()
	if next, ok := r.a.NextAnchor(); !ok || !next.Equal(start) {
		t.Errorf("before any anchor: %v, %v; want now", next, ok)
	}
	if h, err := r.a.NodeHeight(context.Background()); h != 101 || err != nil {
		t.Errorf("NodeHeight = %d, %v", h, err)
	}
	r.step()
	r.cps.set(10)
	r.step() // an anchor in the mempool
	if _, ok := r.a.NextAnchor(); ok {
		t.Error("a next anchor while one is pending")
	}
	r.node.mine(1)
	r.step() // final at depth 1
	if next, ok := r.a.NextAnchor(); !ok || !next.Equal(start.Add(time.Minute)) {
		t.Errorf("after a final anchor: %v, %v; want Interval after it was made", next, ok)
	}
	r.clock.advance(2 * time.Minute)
	if next, ok := r.a.NextAnchor(); !ok || !next.Equal(r.clock.Now()) {
		t.Errorf("Interval past: %v, %v; want now", next, ok)
	}
	r.node.setDown(true)
	if _, err := r.a.NodeHeight(context.Background()); err == nil {
		t.Error("NodeHeight of a node that is down")
	}
}

// TestWatch checks that Watch calls back on each change a lookup would see, and only then.
// It runs on synctest's clock: expect lets Watch tick over the state a step left, and
// then counts what it reported, however slowly the machine runs the goroutines.
func TestWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newFakeRig(t, nil)
		r.step()
		changes := make(chan struct{}, 100)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.a.Watch(ctx, time.Millisecond, func() { changes <- struct{}{} })
		}()
		defer func() { cancel(); <-done }()
		// expect counts the changes reported over ten of Watch's ticks (a step may pass
		// through several states, each of which may be seen).
		expect := func(what string, want bool) {
			t.Helper()
			time.Sleep(10 * time.Millisecond)
			synctest.Wait() // Watch has looked at the state and is waiting for its next tick
			n := 0
			for len(changes) > 0 {
				<-changes
				n++
			}
			if (n > 0) != want {
				t.Errorf("%s: %d changes reported", what, n)
			}
		}
		expect("nothing happened", false)
		r.step()
		expect("a step that changed nothing", false)
		r.cps.set(10)
		r.step()
		expect("an anchor sent", true)
		r.node.mine(1)
		r.step()
		expect("the anchor mined", true)
		r.node.mine(3)
		r.step()
		expect("blocks beyond the final depth", false)
	})
}
