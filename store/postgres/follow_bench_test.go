package postgres

// How far a follower trails the writer, with the head polled every 200 ms (poll: the
// store hidden behind an interface that is not a HeadWatcher) and with notifications
// (notify), on a quiet writer and under load; and what a quiet follower costs:
//
//	go test ./store/postgres -run '^$' -bench 'Follower/load' -benchtime 200x
//	go test ./store/postgres -run '^$' -bench 'Follower/idle' -benchtime 10x

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/service"
)

// pollOnly is the store without the methods beyond service.RemoteStore: a follower on it
// polls the head, as every follower did before notifications.
type pollOnly struct{ service.RemoteStore }

// followerStore returns the store a follower of mode uses.
func followerStore(db *DB, mode string) service.Store {
	if mode == "poll" {
		return pollOnly{db}
	}
	return db
}

// processCPU returns the CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFollower measures, an iteration, the time from a submission acknowledged by a
// writer service to a follower service (on a handle of its own, as in another process)
// reporting the entry in its log size: lag-p50-ms, lag-p99-ms. With load=0 each
// submission comes 0-200 ms after the follower saw the one before; with load=N, N other clients submit all the while
// (load-subs/s). It reports the follower's reads of the
// head per second, and the CPU of this process (writer, follower and clients) and of the
// server per submission.
func BenchmarkFollower(b *testing.B) {
	for _, load := range []int{0, 16} {
		for _, mode := range []string{"poll", "notify"} {
			b.Run(fmt.Sprintf("load=%d/mode=%s", load, mode), func(b *testing.B) {
				benchFollowerLag(b, load, mode)
			})
		}
	}
	for _, mode := range []string{"poll", "notify"} {
		b.Run("idle/mode="+mode, func(b *testing.B) { benchFollowerIdle(b, mode) })
	}
}

func benchFollowerLag(b *testing.B, load int, mode string) {
	ctx := context.Background()
	db, dsn := openTest(b)
	w, stop := startService(b, db)
	f := runFollower(b, followerStore(openDSN(b, dsn), mode), 0)

	var loaded atomic.Int64
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for c := range load {
		wg.Go(func() {
			for k := int64(0); loadCtx.Err() == nil; k++ {
				if _, err := w.Submit(loadCtx, logtest.Digest(int64(c+1)<<40|k)); err != nil {
					if loadCtx.Err() == nil {
						b.Error(err)
					}
					return
				}
				loaded.Add(1)
			}
		})
	}
	lags := make([]time.Duration, 0, b.N)
	reads0, loaded0, cpu0, server0 := f.FollowStats().Reads, loaded.Load(), processCPU(b), serverCPU(b, db)
	start := time.Now()
	var k int64
	for b.Loop() {
		// Submissions come at any moment, not in step with the follower's reads: a
		// random part of a poll interval after the last one seen.
		time.Sleep(time.Duration(rand.Int64N(int64(200 * time.Millisecond))))
		ts, err := w.Submit(ctx, logtest.Digest(1<<62|k))
		if err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		for f.Size() <= ts.Entry.Index {
			if time.Since(acked) > time.Minute {
				b.Fatalf("the follower did not see entry %d in a minute", ts.Entry.Index)
			}
			time.Sleep(20 * time.Microsecond)
		}
		lags = append(lags, time.Since(acked))
		k++
	}
	elapsed := time.Since(start)
	subs := float64(k + loaded.Load() - loaded0)
	cpu, server := processCPU(b)-cpu0, serverCPU(b, db)-server0
	reads := f.FollowStats().Reads - reads0
	stopLoad()
	wg.Wait()
	stop()

	slices.Sort(lags)
	q := func(p float64) float64 { return float64(lags[int(p*float64(len(lags)-1))]) / 1e6 }
	b.ReportMetric(q(0.5), "lag-p50-ms")
	b.ReportMetric(q(0.99), "lag-p99-ms")
	b.ReportMetric(float64(reads)/elapsed.Seconds(), "reads/s")
	b.ReportMetric(float64(loaded.Load()-loaded0)/elapsed.Seconds(), "load-subs/s")
	b.ReportMetric(float64(cpu.Microseconds())/subs, "proc-cpu-µs/sub")
	b.ReportMetric(float64(server.Microseconds())/subs, "server-cpu-µs/sub")
}

// benchFollowerIdle has a follower of a quiet log wait a second an iteration, and
// reports its reads of the head (three queries each) and the server's CPU per second.
func benchFollowerIdle(b *testing.B, mode string) {
	db, dsn := openTest(b)
	w, _ := startService(b, db)
	if _, err := w.Submit(context.Background(), logtest.Digest(1)); err != nil {
		b.Fatal(err)
	}
	f := runFollower(b, followerStore(openDSN(b, dsn), mode), 0)
	time.Sleep(time.Second) // the writer's checkpoint and index settle
	reads0, server0 := f.FollowStats().Reads, serverCPU(b, db)
	start := time.Now()
	for b.Loop() {
		time.Sleep(time.Second)
	}
	elapsed := time.Since(start).Seconds()
	b.ReportMetric(float64(f.FollowStats().Reads-reads0)/elapsed, "reads/s")
	b.ReportMetric(float64((serverCPU(b, db)-server0).Microseconds())/elapsed/1000, "server-cpu-ms/s")
}
