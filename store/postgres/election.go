package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Campaign waits until this process holds the writer lock, or ctx is done. The lock is a
// PostgreSQL advisory lock held by a connection of its own: it is released when that
// connection ends, as when the process dies, so another process waiting in Campaign takes
// it at once (or, if the holder's machine vanished, once TCP keepalives give up on it,
// about 10 s). The lock only elects; what keeps two processes from both writing is Lead's
// epoch. lost is closed if the lock's connection fails; release gives the lock up.
func (db *DB) Campaign(ctx context.Context) (lost <-chan struct{}, release func(), err error) {
	cfg := db.pool.Config().ConnConfig.Copy()
	// Detect a peer that vanished without closing its connection: on the server's side,
	// for the holder's connection, and on ours.
	cfg.RuntimeParams["tcp_keepalives_idle"] = "5"
	cfg.RuntimeParams["tcp_keepalives_interval"] = "2"
	cfg.RuntimeParams["tcp_keepalives_count"] = "3"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, dbErr(ctx, "campaign", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockWriter); err != nil {
		conn.Close(context.Background())
		return nil, nil, dbErr(ctx, "campaign", err)
	}
	done, stop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
		}
	}()
	var once bool
	release = func() {
		if once {
			return
		}
		once = true
		close(stop)
		<-done
		conn.Close(context.Background())
	}
	return done, release, nil
}

// Writer is the process that writes the log, as it published itself.
type Writer struct {
	URL   string    // where it takes forwarded submissions
	Epoch int64     // the epoch it leads at
	Since time.Time // when it began to lead
}

// ErrNoWriter is returned by Writer while no process has published itself as the writer
// at the log's current epoch.
var ErrNoWriter = errors.New("store/postgres: no process writes the log now")

// SetWriter publishes this handle's process as the log's writer, reachable at url. It
// fails with an error wrapping service.ErrFenced if another handle has led since this one.
func (db *DB) SetWriter(ctx context.Context, url string, since time.Time) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if err := db.checkEpoch(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO writer (id, epoch, url, since) VALUES (1, $1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch, url = excluded.url, since = excluded.since`,
			db.epoch.Load(), url, since)
		return err
	})
}

// Writer returns the log's writer as it published itself, or ErrNoWriter if the process
// that published itself no longer leads (another has led since, and not published yet).
func (db *DB) Writer(ctx context.Context) (Writer, error) {
	var w Writer
	var epoch int64
	err := db.pool.QueryRow(ctx, `SELECT w.url, w.epoch, w.since, h.epoch FROM writer AS w, log_head AS h`).
		Scan(&w.URL, &w.Epoch, &w.Since, &epoch)
	switch {
	case notFound(err):
		return Writer{}, ErrNoWriter
	case err != nil:
		return Writer{}, dbErr(ctx, "writer", err)
	case w.Epoch != epoch:
		return Writer{}, fmt.Errorf("%w (epoch %d published, %d led)", ErrNoWriter, w.Epoch, epoch)
	}
	return w, nil
}
