package postgres

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/notary-dev/notary/service"
)

var _ service.HeadWatcher = (*DB)(nil)

// headChannel is the channel the schema's triggers notify (migration 0007) in every
// transaction that moves the log's size, the digest index's size, the latest checkpoint
// or the witnessed checkpoints. PostgreSQL delivers a notification only once its
// transaction has committed and is visible to other sessions.
const headChannel = "notary_head"

// Reconnection: after the listening connection fails, WatchHead waits watchRetryMin,
// then twice as long after each failure in a row, up to watchRetryMax, each wait shortened
// at random by up to a quarter so that processes cut off at once do not come back at once.
// A connection that lasted watchRetryMax starts the waits over.
const (
	watchRetryMin = 100 * time.Millisecond
	watchRetryMax = 10 * time.Second
)

// watchConnect bounds the connecting and LISTEN of the listening connection.
const watchConnect = 30 * time.Second

// ErrWatching is returned by WatchHead while another WatchHead runs on the same DB.
var ErrWatching = errors.New("store/postgres: the log's head is already watched through this handle; watch it once per process")

// WatchHead implements service.HeadWatcher: it listens on a connection of its own (apart
// from the pool) for the notifications of the commits that move the log's head, and calls
// ev.Moved for each, until ctx is done. When the connection fails (the server restarted,
// the session was terminated, the network is down: TCP keepalives give up on a silent
// peer within about 10 s) it calls ev.Lost, connects again after a backoff, and calls
// ev.Watching once it listens again. At most one WatchHead runs on a DB at a time;
// another fails with ErrWatching.
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
