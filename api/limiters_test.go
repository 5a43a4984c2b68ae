package api

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLimiterTableFull: the table of rate limiters stays within its bound under a flood of
// new clients, and a client that has used up its allowance is not forgotten for them (which
// would give it a fresh bucket); buckets that are full again go first.
func TestLimiterTableFull(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	a := newAccess(nil, Limits{}, nil)
	a.now = func() time.Time { return now }
	a.limiterCap = 100
	slow := Rate{PerSecond: 0.001, Burst: 5} // refills nothing while the test runs
	fast := Rate{PerSecond: 1, Burst: 5}

	for i := range 5 {
		if wait, _ := a.reserve("ip:victim", slow); wait != 0 {
			t.Fatalf("request %d of a burst of 5 refused", i+1)
		}
	}
	if wait, _ := a.reserve("ip:victim", slow); wait == 0 {
		t.Fatal("a sixth request in the burst of 5 allowed")
	}

	// A flood of new addresses, each taking one request of its bucket (so none is full).
	for i := range 1000 {
		a.reserve(fmt.Sprintf("ip:flood-%d", i), fast)
		if n := len(a.limiters); n > a.limiterCap {
			t.Fatalf("%d limiters after %d new clients, over the bound of %d", n, i+1, a.limiterCap)
		}
	}
	if wait, _ := a.reserve("ip:victim", slow); wait == 0 {
		t.Error("after a flood of new addresses, a client with no allowance left got a fresh bucket")
	}

	// Ten seconds on, the flood's buckets are full again: the next full table forgets them,
	// and only them.
	now = now.Add(10 * time.Second)
	for i := len(a.limiters); i <= a.limiterCap; i++ {
		a.reserve(fmt.Sprintf("ip:late-%d", i), slow)
	}
	for k := range a.limiters {
		if strings.HasPrefix(k, "ip:flood-") {
			t.Errorf("%s, whose bucket is full, is kept", k)
			break
		}
	}
	if _, ok := a.limiters["ip:victim"]; !ok {
		t.Error("the client with no allowance left was forgotten")
	}
	if wait, _ := a.reserve("ip:victim", slow); wait == 0 {
		t.Error("the client with no allowance left got a fresh bucket")
	}
}
