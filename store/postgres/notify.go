package postgres

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/notary-dev/notary/service"
)

var _ service.HeadWatcher = (*DB)(nil)

// headChannel is the channel a DB notifies after commits that move the log's size, the
// digest index's size, the latest checkpoint or the witnessed checkpoints. The
// notification is sent once the commit has returned, in a transaction of its own, so a
// listener is never told of a head before it can read it. Its payload is empty.
const headChannel = "notary_head"

// notifyEvery is the least time between two notifications by one DB: a busy writer's
// commits are told of together, at most 200 times a second, so that neither the writer
// nor the server nor the listeners pay for every commit.
const notifyEvery = 5 * time.Millisecond

// notifyHead notifies headChannel in a transaction that does not wait for the disk: it
// writes nothing that must survive a crash, and a notification lost is made up for by
// the listeners' own reads.
const notifyHead = `BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_notify('` + headChannel + `', ''); COMMIT`

// notifier tells the processes listening on headChannel that this DB's commits moved the
// head, coalescing the moves of every notifyEvery into one notification.
type notifier struct {
	pending chan struct{} // a move not told yet
	cancel  context.CancelFunc
	done    chan struct{}
}

// start starts telling the moves that moved reports, on connections of pool.
func (n *notifier) start(pool *pgxpool.Pool) {
	ctx, cancel := context.WithCancel(context.Background())
	n.pending, n.cancel, n.done = make(chan struct{}, 1), cancel, make(chan struct{})
	go func() {
		defer close(n.done)
		var last time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-n.pending:
			}
			if wait := notifyEvery - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			last = time.Now()
			// A failure (the server unreachable, its notification queue full) loses one
			// notification; the listeners read the head every few seconds anyway.
			nctx, ncancel := context.WithTimeout(ctx, notifyTimeout)
			_, _ = pool.Exec(nctx, notifyHead)
			ncancel()
		}
	}()
}

// moved reports a commit that moved the head: it is told within notifyEvery and a round
// trip. It never blocks.
func (n *notifier) moved() {
	select {
	case n.pending <- struct{}{}:
	default:
	}
}

// stop stops telling moves, dropping one not told yet.
func (n *notifier) stop() {
	n.cancel()
	<-n.done
}

// Reconnection: after the listening connection fails, WatchHead waits watchRetryMin,
// then twice as long after each failure in a row, up to watchRetryMax, each wait shortened
// at random by up to a quarter so that processes cut off at once do not come back at once.
// A connection that lasted watchRetryMax starts the waits over.
const (
	watchRetryMin = 100 * time.Millisecond
	watchRetryMax = 10 * time.Second
)

// watchConnect bounds the connecting and LISTEN of the listening connection, and
// notifyTimeout a notification.
const (
	watchConnect  = 30 * time.Second
	notifyTimeout = 10 * time.Second
)

// ErrWatching is returned by WatchHead while another WatchHead runs on the same DB.
var ErrWatching = errors.New("store/postgres: the log's head is already watched through this handle; watch it once per process")

// WatchHead implements service.HeadWatcher: it listens on a connection of its own (apart
// from the pool) for the notifications that the writer's DB sends after commits that move
// the log's head, and calls ev.Moved for each, until ctx is done. When the connection
// fails (the server restarted, the session was terminated, the network is down: TCP
// keepalives give up on a silent peer within about 10 s) it calls ev.Lost, connects again
// after a backoff, and calls ev.Watching once it listens again. At most one WatchHead runs
// on a DB at a time; another fails with ErrWatching.
func (db *DB) WatchHead(ctx context.Context, ev service.HeadEvents) error {
	if !db.watching.CompareAndSwap(false, true) {
		return ErrWatching
	}
	defer db.watching.Store(false)
	wait := watchRetryMin
	for {
		since, err := db.listen(ctx, ev)
		if ctx.Err() != nil {
			return nil
		}
		ev.Lost(err)
		if !since.IsZero() && time.Since(since) >= watchRetryMax {
			wait = watchRetryMin
		}
		t := time.NewTimer(wait - rand.N(wait/4))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, watchRetryMax)
	}
}

// listen connects, listens on headChannel, tells ev it is watching and then of every
// notification, until the connection fails or ctx is done. It returns why it stopped
// and when it began to listen (zero if it never did).
func (db *DB) listen(ctx context.Context, ev service.HeadEvents) (since time.Time, err error) {
	cfg := db.pool.Config().ConnConfig.Copy()
	// A server that vanished without closing the connection is given up on by TCP
	// keepalives (5 s idle, then 3 probes 2 s apart) rather than waited for in silence;
	// the server does the same for a client that vanished.
	dialer := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: 5 * time.Second, Interval: 2 * time.Second, Count: 3}}
	cfg.DialFunc = dialer.DialContext
	cfg.RuntimeParams["tcp_keepalives_idle"] = "5"
	cfg.RuntimeParams["tcp_keepalives_interval"] = "2"
	cfg.RuntimeParams["tcp_keepalives_count"] = "3"
	// Notifications are handled as they arrive, not queued: pgx would keep every one
	// not yet waited for.
	cfg.OnNotification = func(*pgconn.PgConn, *pgconn.Notification) { ev.Moved() }

	cctx, cancel := context.WithTimeout(ctx, watchConnect)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return time.Time{}, dbErr(ctx, "connect to listen for the log's head", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(cctx, "LISTEN "+headChannel); err != nil {
		return time.Time{}, dbErr(ctx, "listen for the log's head", err)
	}
	since = time.Now()
	ev.Watching()
	for {
		if err := conn.PgConn().WaitForNotification(ctx); err != nil {
			return since, dbErr(ctx, "listen for the log's head", err)
		}
	}
}
