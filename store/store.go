// Package store keeps the notary's durable state in one SQLite file: the log's entries, its
// stored Merkle hashes, its signed checkpoints, and the anchorer's records and wallet.
//
// A DB implements service.Store and anchor.Store. Every write is one transaction that is
// synced to disk (WAL mode, synchronous=FULL) before the method returns, so whatever a
// method acknowledged survives a crash or a power loss. Writes go through a single
// connection; reads use a separate pool and, thanks to the write-ahead log, never wait
// for a write in progress: they see the last committed state.
//
// The schema is created and upgraded by numbered migrations embedded in the binary
// (migrations/0001_init.sql, …). Open applies the missing ones and refuses a database
// written by a newer version of the program.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/mattn/go-sqlite3"

	"github.com/notary-dev/notary/anchor"
	"github.com/notary-dev/notary/service"
)

var (
	_ service.EntryLookupStore = (*DB)(nil)
	_ anchor.Store  = (*DB)(nil)
)

// busyTimeoutMS is how long a connection waits for a lock held by another connection
// (a checkpoint of the write-ahead log, another process) before it reports SQLITE_BUSY.
const busyTimeoutMS = 10_000

// walSizeLimit caps the size the write-ahead log file is truncated back to after a
// checkpoint, should a long read have let it grow.
const walSizeLimit = 64 << 20

// writerPragmas are run on the writer connection when it opens.
var writerPragmas = []string{
	// Readers work on a snapshot and never block the writer, nor the writer them;
	// a commit is a sequential append to the log file. Persistent in the file.
	"PRAGMA journal_mode = WAL",
	// Sync the write-ahead log at every commit: an acknowledged write survives a power
	// loss. (NORMAL, the driver's default, may lose the last commits in WAL mode.)
	"PRAGMA synchronous = FULL",
	fmt.Sprintf("PRAGMA busy_timeout = %d", busyTimeoutMS),
	"PRAGMA foreign_keys = ON",
	fmt.Sprintf("PRAGMA journal_size_limit = %d", walSizeLimit),
}

// readerPragmas are run on every reader connection when it opens.
var readerPragmas = []string{
	// A reader may run the last checkpoint when it is closed last: keep it as safe.
	"PRAGMA synchronous = FULL",
	fmt.Sprintf("PRAGMA busy_timeout = %d", busyTimeoutMS),
	"PRAGMA foreign_keys = ON",
	// Reader connections must never write.
	"PRAGMA query_only = ON",
}

// DB is the notary's SQLite database. It is safe for use by many goroutines.
type DB struct {
	writer  *sql.DB // one connection: every write, in order
	readers *sql.DB // a pool for reads

	// Prepared on the writer.
	logSizes      *sql.Stmt // current entry and stored hash counts
	insertEntries *batchInsert
	insertHashes  *batchInsert
	writerLatest  *sql.Stmt
	insertCheckpt *sql.Stmt
	upsertAnchor  *sql.Stmt
	upsertWallet  *sql.Stmt

	// Prepared on the readers.
	readHashes *sql.Stmt
	readEntry  *sql.Stmt
	scan       *sql.Stmt
	logSize    *sql.Stmt
	checkpoint *sql.Stmt
	latest     *sql.Stmt

	scanDigests *sql.Stmt

	index digestIndex // the digest index, opened on first use

	epoch atomic.Int64 // the epoch this handle led at (Lead), 0 if it never led

	appendMu sync.Mutex // guards args, reused by AppendEntries
	args     []any

	closeOnce sync.Once
	closeErr  error
}

// Open opens the database at path, creating it (mode 0600) and its directory (mode 0700)
// if they do not exist, and brings its schema up to date. It fails with an error
// wrapping ErrSchemaTooNew if the database was written by a newer version of the program.
func Open(path string) (*DB, error) {
	db, err := open(path, migrationFS)
	if err != nil {
		return nil, err
	}
	if err := db.prepare(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// open opens the writer and reader pools of the database at path, after bringing its
// schema up to date with migrations. The statements are not prepared.
func open(path string, migrations fs.FS) (_ *DB, err error) {
	if path == "" {
		return nil, errors.New("store: no database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// Create the file here, not in SQLite, to choose its mode; SQLite gives the
	// -wal and -shm files the same mode as the database file.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}

	db := &DB{}
	db.index.dir = abs + "-digests"
	defer func() {
		if err != nil {
			db.Close()
		}
	}()

	db.writer = sql.OpenDB(newConnector(abs, "immediate", writerPragmas))
	db.writer.SetMaxOpenConns(1)
	db.writer.SetMaxIdleConns(1)
	db.writer.SetConnMaxLifetime(0)
	db.writer.SetConnMaxIdleTime(0)

	ctx := context.Background()
	if err := migrate(ctx, db.writer, migrations); err != nil {
		return nil, err
	}

	// Readers are opened after the writer has put the file in WAL mode.
	nReaders := max(4, runtime.GOMAXPROCS(0))
	db.readers = sql.OpenDB(newConnector(abs, "deferred", readerPragmas))
	db.readers.SetMaxOpenConns(nReaders)
	db.readers.SetMaxIdleConns(nReaders)
	db.readers.SetConnMaxLifetime(0)
	db.readers.SetConnMaxIdleTime(0)
	if err := db.readers.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("store: open for reading: %v", err)
	}
	return db, nil
}

// Close closes the database. It must not be called while other methods are running.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		// Close the readers first, so that the writer is the last connection and
		// checkpoints the write-ahead log into the database file.
		var errs []error
		errs = append(errs, db.index.close())
		if db.readers != nil {
			errs = append(errs, db.readers.Close())
		}
		if db.writer != nil {
			errs = append(errs, db.writer.Close())
		}
		if err := errors.Join(errs...); err != nil {
			db.closeErr = fmt.Errorf("store: close: %w", err)
		}
	})
	return db.closeErr
}

// prepare prepares the statements that are run over and over.
func (db *DB) prepare(ctx context.Context) error {
	var err error
	prep := func(pool *sql.DB, query string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = pool.PrepareContext(ctx, query)
		if err != nil {
			err = fmt.Errorf("store: prepare %q: %v", query, err)
		}
		return s
	}
	w, r := db.writer, db.readers

	db.logSizes = prep(w, `SELECT
		(SELECT ifnull(max(id) + 1, 0) FROM entries),
		(SELECT ifnull(max(id) + 1, 0) FROM hashes)`)
	db.writerLatest = prep(w, `SELECT size, origin, root, note FROM checkpoints ORDER BY size DESC LIMIT 1`)
	db.insertCheckpt = prep(w, `INSERT INTO checkpoints (size, origin, root, note) VALUES (?, ?, ?, ?)`)
	db.upsertAnchor = prep(w, `INSERT INTO anchors (id, data) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data`)
	db.upsertWallet = prep(w, `INSERT INTO wallet (id, data) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data`)

	// The indexes arrive as one JSON array; its key orders the results as requested,
	// and the left join yields a NULL hash for an index that is missing.
	db.readHashes = prep(r, `SELECT j.value, h.hash
		FROM json_each(?) AS j LEFT JOIN hashes AS h ON h.id = j.value
		ORDER BY j.key`)
	db.readEntry = prep(r, `SELECT id, digest, time_ms, nonce FROM entries WHERE id = ?`)
	db.scan = prep(r, `SELECT id, digest, time_ms, nonce FROM entries WHERE id >= ? ORDER BY id`)
	db.scanDigests = prep(r, `SELECT id, digest FROM entries WHERE id >= ? AND id < ? ORDER BY id`)
	db.logSize = prep(r, `SELECT ifnull(max(id) + 1, 0) FROM entries`)
	db.checkpoint = prep(r, `SELECT size, origin, root, note FROM checkpoints WHERE size = ?`)
	db.latest = prep(r, `SELECT size, origin, root, note FROM checkpoints ORDER BY size DESC LIMIT 1`)
	if err != nil {
		return err
	}

	db.insertEntries, err = prepareBatchInsert(ctx, w, "entries", []string{"id", "digest", "time_ms", "nonce"})
	if err != nil {
		return err
	}
	db.insertHashes, err = prepareBatchInsert(ctx, w, "hashes", []string{"id", "hash"})
	return err
}

// connector opens SQLite connections to one file and runs pragmas on each.
type connector struct {
	dsn    string
	driver *sqlite3.SQLiteDriver
}

// newConnector returns a connector for the database file at the absolute path abs.
// txlock is "immediate" for the writer, so that a write transaction takes the write
// lock when it begins rather than failing to upgrade a read lock later.
func newConnector(abs, txlock string, pragmas []string) *connector {
	// A file: URI, so that any character in the path is escaped. mode=rw: Open has
	// created the file; SQLite must not create another one somewhere else.
	q := url.Values{"mode": {"rw"}, "_txlock": {txlock}}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return &connector{
		dsn: u.String(),
		driver: &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
			for _, p := range pragmas {
				if _, err := c.Exec(p, nil); err != nil {
					return fmt.Errorf("store: %s: %v", p, err)
				}
			}
			return nil
		}},
	}
}

// Connect implements driver.Connector.
func (c *connector) Connect(context.Context) (driver.Conn, error) {
	return c.driver.Open(c.dsn)
}

// Driver implements driver.Connector.
func (c *connector) Driver() driver.Driver { return c.driver }

// LogSize returns the number of entries stored.
func (db *DB) LogSize(ctx context.Context) (int64, error) {
	var n int64
	if err := db.logSize.QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, dbErr(ctx, "log size", err)
	}
	return n, nil
}

// dbErr reports an error from the database as detail (%v), not as part of the contract,
// except that a canceled or expired context stays matchable with errors.Is.
func dbErr(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("store: %s: %w", what, ctxErr)
	}
	return fmt.Errorf("store: %s: %v", what, err)
}

// Backup writes a consistent copy of the database to the new file dest (VACUUM INTO),
// while the service goes on: appends wait for the copy, reads do not.
func (db *DB) Backup(ctx context.Context, dest string) error {
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("store: backup: %s exists; choose a new file", dest)
	}
	db.appendMu.Lock()
	defer db.appendMu.Unlock()
	if _, err := db.writer.ExecContext(ctx, "VACUUM INTO ?", dest); err != nil {
		return dbErr(ctx, "backup to "+dest, err)
	}
	return nil
}

// Lead makes this handle the log's writer: it moves the writer epoch on by one and returns
// it. Writes through handles that led at an earlier epoch fail from then on with an error
// wrapping service.ErrFenced.
func (db *DB) Lead(ctx context.Context) (int64, error) {
	db.appendMu.Lock()
	defer db.appendMu.Unlock()
	var epoch int64
	if err := db.writer.QueryRowContext(ctx, `UPDATE writer SET epoch = epoch + 1 WHERE id = 1 RETURNING epoch`).Scan(&epoch); err != nil {
		return 0, dbErr(ctx, "lead", err)
	}
	db.epoch.Store(epoch)
	return epoch, nil
}

// checkEpoch fails with an error wrapping service.ErrFenced if this handle led and another
// has led since; tx is a write transaction, which holds the lock that Lead needs.
func (db *DB) checkEpoch(ctx context.Context, tx *sql.Tx) error {
	mine := db.epoch.Load()
	if mine == 0 {
		return nil
	}
	var epoch int64
	if err := tx.QueryRowContext(ctx, `SELECT epoch FROM writer WHERE id = 1`).Scan(&epoch); err != nil {
		return dbErr(ctx, "writer epoch", err)
	}
	if epoch != mine {
		return fmt.Errorf("store: %w (epoch %d, this process led at %d)", service.ErrFenced, epoch, mine)
	}
	return nil
}
