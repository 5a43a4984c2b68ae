// Package postgres keeps the notary's durable state in a PostgreSQL database: the log's
// entries and stored Merkle hashes, the digest index, the signed checkpoints, the
// anchorer's records and wallet, API keys and webhooks.
//
// A DB implements service.Store, anchor.Store, api.KeyStore and webhook.Store, as the
// SQLite store (package store) does, so that the service runs on either.
//
// Every append is one transaction that moves the log's head with a compare-and-swap
// (UPDATE log_head … WHERE size = old): two processes that both believe they sequence
// the log cannot both extend it from the same size; the one that loses gets
// service.ErrOutOfSequence and nothing of its batch is written. Entries and hashes are
// stored a row per append (split every 65,536 entries), not a row per entry.
//
// After every commit that moves the log's head (its size, the latest checkpoint, the
// digest index, the witnessed checkpoints) a DB notifies channel notary_head, at most
// once every few milliseconds: WatchHead listens for it, so that a process that follows
// the log another writes reads the head when it moves instead of polling it.
//
// Writes are acknowledged only once durable: the sessions keep synchronous_commit on
// (or stronger, as the server sets it), so a method that returned nil has its data on
// disk, and on the synchronous standbys the server names.
//
// The schema is created and upgraded by numbered migrations embedded in the binary
// (migrations/0001_init.sql, …), applied under an advisory lock so that processes
// opening the database at once apply each one once. Open refuses a database written by
// a newer version of the program, and a non-empty database that is not the notary's.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/notary-dev/notary/internal/digestkey"
	"github.com/notary-dev/notary/service"
)

var _ service.RemoteStore = (*DB)(nil)

// minConns is the least number of connections the pool may open.
const minConns = 2

// DB is the notary's PostgreSQL database. It is safe for use by many goroutines.
type DB struct {
	pool  *pgxpool.Pool
	epoch atomic.Int64 // the epoch this handle led at (Lead), 0 if it never led

	watching atomic.Bool // a WatchHead runs
	notifier notifier    // tells the other processes that the head moved

	keys *digestkey.Keyer // the digest index's keys, under its secret
}

// Open connects to the database at dsn (a postgres:// URL or key=value string, as libpq
// takes; pool_max_conns, at least 2, and the other pgxpool settings are honoured) and brings its
// schema up to date. It fails with an error wrapping ErrSchemaTooNew if the database was
// written by a newer version of the program. ctx bounds the connection and migration.
func Open(ctx context.Context, dsn string) (*DB, error) {
	db, err := open(ctx, dsn, migrationFS)
	if err != nil {
		return nil, err
	}
	var secret []byte
	if err := db.pool.QueryRow(ctx, `SELECT secret FROM digest_key`).Scan(&secret); err != nil {
		db.Close()
		return nil, dbErr(ctx, "read the digest index's secret", err)
	}
	if db.keys, err = digestkey.New(secret); err != nil {
		db.Close()
		return nil, fmt.Errorf("store/postgres: the digest index's secret: %w", err)
	}
	return db, nil
}

// open opens a pool on dsn and applies migrations.
func open(ctx context.Context, dsn string, migrations fs.FS) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: %v", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "notary"
	}
	// ScanEntries holds a connection while its callback may read: two at least.
	cfg.MaxConns = max(cfg.MaxConns, minConns)
	cfg.AfterConnect = durableCommits
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: %v", err)
	}
	db := &DB{pool: pool}
	if err := migrate(ctx, pool, migrations); err != nil {
		pool.Close()
		return nil, err
	}
	db.notifier.start(pool)
	return db, nil
}

// durableCommits makes sure a commit on conn returns only once it is flushed to disk:
// a server or role configured with synchronous_commit = off (or local, which skips the
// synchronous standbys) is overridden for the session; remote_write, on and
// remote_apply are kept.
func durableCommits(ctx context.Context, conn *pgx.Conn) error {
	var level string
	if err := conn.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&level); err != nil {
		return fmt.Errorf("store/postgres: read synchronous_commit: %v", err)
	}
	switch level {
	case "off", "local":
		if _, err := conn.Exec(ctx, `SET synchronous_commit = on`); err != nil {
			return fmt.Errorf("store/postgres: set synchronous_commit: %v", err)
		}
	}
	return nil
}

// Remote marks the store as one on a server (service.RemoteStore): the service has
// concurrent requests share their digest lookups.
func (db *DB) Remote() {}

// Close closes every connection. It must not be called while other methods are running;
// it always returns nil (it has the signature of io.Closer).
func (db *DB) Close() error {
	db.notifier.stop()
	db.pool.Close()
	return nil
}

// Ping checks that the database answers a query that reads it.
func (db *DB) Ping(ctx context.Context) error {
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT size FROM log_head`).Scan(&n); err != nil {
		return dbErr(ctx, "ping", err)
	}
	return nil
}

// dbErr reports an error from the database as detail (%v), not as part of the contract,
// except that a canceled or expired context stays matchable with errors.Is.
func dbErr(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("store/postgres: %s: %w", what, ctxErr)
	}
	return fmt.Errorf("store/postgres: %s: %v", what, err)
}

// notFound reports whether err is pgx's "no rows".
func notFound(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
