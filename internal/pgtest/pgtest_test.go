package pgtest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/notary-dev/notary/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestFindBinDir(t *testing.T) {
	t.Setenv(pgtest.EnvBinDir, filepath.Join(t.TempDir(), "missing"))
	_, err := pgtest.FindBinDir()
	if err == nil || !strings.Contains(err.Error(), "install.sh") {
		t.Errorf("FindBinDir() with $%s pointing nowhere: %v, want an error naming install.sh", pgtest.EnvBinDir, err)
	}
	if _, err := pgtest.Start(context.Background(), pgtest.Options{BinDir: t.TempDir()}); err == nil {
		t.Error("Start with an empty BinDir: no error")
	}
}

// TestServer starts a server and checks what the package promises about it: the
// superuser, the durability settings, the address, and that Stop removes it.
func TestServer(t *testing.T) {
	t.Parallel()
	start := time.Now()
	srv := pgtest.New(t)
	t.Logf("started in %v", time.Since(start))
	ctx := testContext(t, 30*time.Second)

	if want := "postgres://notary@" + srv.Addr() + "/postgres?sslmode=disable"; srv.DSN("postgres") != want {
		t.Errorf("DSN(postgres) = %q, want %q", srv.DSN("postgres"), want)
	}
	conn := connect(t, ctx, srv.DSN("postgres"))
	var user, fsync, syncCommit, sharedBuffers, maxConn, version string
	var super bool
	err := conn.QueryRow(ctx, `SELECT current_user, usesuper, current_setting('fsync'),
		current_setting('synchronous_commit'), current_setting('shared_buffers'),
		current_setting('max_connections'), current_setting('server_version')
		FROM pg_user WHERE usename = current_user`).
		Scan(&user, &super, &fsync, &syncCommit, &sharedBuffers, &maxConn, &version)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL %s", version)
	if user != pgtest.User || !super {
		t.Errorf("connected as %q (superuser %v), want %q as superuser", user, super, pgtest.User)
	}
	if fsync != "on" || syncCommit != "on" || sharedBuffers != "128MB" || maxConn != "200" {
		t.Errorf("fsync %s, synchronous_commit %s, shared_buffers %s, max_connections %s; want on, on, 128MB, 200",
			fsync, syncCommit, sharedBuffers, maxConn)
	}
	conn.Close(ctx)

	dir := srv.Dir()
	start = time.Now()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %v", time.Since(start))
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop() = %v", err)
	}
	if srv.Running() {
		t.Error("server running after Stop")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("directory %s after Stop: %v, want it gone", dir, err)
	}
	fast := testContext(t, 2*time.Second)
	if c, err := pgx.Connect(fast, srv.DSN("postgres")); err == nil {
		c.Close(fast)
		t.Error("server accepts connections after Stop")
	}
	if err := srv.Restart(ctx); err == nil {
		t.Error("Restart after Stop: no error")
	}
}

// TestDatabases creates two databases on one server and checks that they are apart.
func TestDatabases(t *testing.T) {
	t.Parallel()
	srv := pgtest.New(t)
	ctx := testContext(t, 30*time.Second)
	dsnA, err := srv.CreateDatabase(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	dsnB, err := srv.CreateDatabase(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.CreateDatabase(ctx, "alpha"); err == nil {
		t.Error("creating alpha twice: no error")
	}
	a, b := connect(t, ctx, dsnA), connect(t, ctx, dsnB)
	exec(t, ctx, a, "CREATE TABLE entries (id int PRIMARY KEY)")
	exec(t, ctx, a, "INSERT INTO entries VALUES (1), (2)")
	exec(t, ctx, b, "CREATE TABLE entries (id int PRIMARY KEY)")
	if n := count(t, ctx, b, "SELECT count(*) FROM entries"); n != 0 {
		t.Errorf("beta sees %d rows of alpha's", n)
	}
	if err := srv.DropDatabase(ctx, "alpha"); err != nil { // a still connected: FORCE
		t.Fatal(err)
	}
	if c, err := pgx.Connect(ctx, dsnA); err == nil {
		c.Close(ctx)
		t.Error("connected to alpha after DropDatabase")
	}
}

// TestShared checks that parallel tests get databases of their own on one server.
func TestShared(t *testing.T) {
	if testing.Short() {
		t.Skip("real PostgreSQL server skipped in -short mode")
	}
	dsns := make(chan string, 2)
	t.Run("group", func(t *testing.T) {
		for _, name := range []string{"a", "b"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				ctx := testContext(t, 30*time.Second)
				dsn := pgtest.Shared(t)
				dsns <- dsn
				conn := connect(t, ctx, dsn)
				exec(t, ctx, conn, "CREATE TABLE entries (id int PRIMARY KEY)")
				exec(t, ctx, conn, "INSERT INTO entries VALUES (1)")
			})
		}
	})
	close(dsns)
	if len(dsns) != 2 {
		t.Fatalf("%d of 2 tests got a database", len(dsns))
	}
	a, b := <-dsns, <-dsns
	if a == b {
		t.Fatalf("two tests got the same database %s", a)
	}
	t.Logf("%s\n%s", a, b)
	addrOf := func(dsn string) string { return strings.Split(strings.TrimPrefix(dsn, "postgres://notary@"), "/")[0] }
	if addrOf(a) != addrOf(b) {
		t.Errorf("the shared databases are on different servers: %s, %s", a, b)
	}
}

// TestKillRestart checks that work committed before a crash survives it and work in
// flight does not, on the same address.
func TestKillRestart(t *testing.T) {
	t.Parallel()
	srv := pgtest.New(t)
	ctx := testContext(t, 90*time.Second)
	dsn, err := srv.CreateDatabase(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, ctx, dsn)
	exec(t, ctx, conn, "CREATE TABLE entries (id int PRIMARY KEY)")
	exec(t, ctx, conn, "INSERT INTO entries VALUES (1)")
	open := connect(t, ctx, dsn)
	exec(t, ctx, open, "BEGIN")
	exec(t, ctx, open, "INSERT INTO entries VALUES (2)")

	start := time.Now()
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed in %v", time.Since(start))
	if srv.Running() {
		t.Fatal("Running() after Kill")
	}
	if _, err := conn.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("a connection survived Kill")
	}
	start = time.Now()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("recovered in %v", time.Since(start))
	if !strings.Contains(srv.LogTail(1<<20), "database system was interrupted") {
		t.Errorf("no crash recovery in the log:\n%s", srv.LogTail(2000))
	}
	conn = connect(t, ctx, dsn)
	if n := count(t, ctx, conn, "SELECT count(*) FROM entries"); n != 1 {
		t.Errorf("%d rows after the crash, want the 1 committed", n)
	}
	exec(t, ctx, conn, "INSERT INTO entries VALUES (3)")

	// A clean restart keeps everything too.
	start = time.Now()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted in %v", time.Since(start))
	conn = connect(t, ctx, dsn)
	if n := count(t, ctx, conn, "SELECT count(*) FROM entries"); n != 2 {
		t.Errorf("%d rows after a clean restart, want 2", n)
	}
}

// TestSyncStandby checks synchronous replication and failover: a committed row is
// on the standby, a commit waits while the standby is down, and the promoted
// standby accepts writes.
func TestSyncStandby(t *testing.T) {
	t.Parallel()
	primary := pgtest.New(t)
	ctx := testContext(t, 120*time.Second)
	dsn, err := primary.CreateDatabase(ctx, "repl")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	standby := pgtest.Standby(t, primary, pgtest.Sync)
	t.Logf("standby started in %v", time.Since(start))
	standbyDSN := standby.DSN("repl")

	p := connect(t, ctx, dsn)
	var names string
	if err := p.QueryRow(ctx, "SHOW synchronous_standby_names").Scan(&names); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(names, standby.Name()) {
		t.Errorf("synchronous_standby_names = %q, want it to name %s", names, standby.Name())
	}
	exec(t, ctx, p, "CREATE TABLE entries (id int PRIMARY KEY)")
	exec(t, ctx, p, "INSERT INTO entries VALUES (1)")

	// The standby has flushed the commit; replay follows within moments.
	s := connect(t, ctx, standbyDSN)
	waitRows(t, ctx, s, 1)
	if _, err := s.Exec(ctx, "INSERT INTO entries VALUES (99)"); err == nil {
		t.Error("the standby accepted a write")
	}

	// Without its synchronous standby the primary does not confirm commits.
	if err := standby.Kill(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = p.Exec(short, "INSERT INTO entries VALUES (2)")
	cancel()
	if err == nil {
		t.Error("a commit returned while the synchronous standby was down")
	}
	if err := standby.Restart(ctx); err != nil {
		t.Fatal(err)
	}

	// Failover.
	if err := primary.Kill(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := standby.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("promoted in %v\n%s", time.Since(start), standby.LogTail(3000))
	s = connect(t, ctx, standbyDSN)
	exec(t, ctx, s, "INSERT INTO entries VALUES (3)")
	if n := count(t, ctx, s, "SELECT count(*) FROM entries WHERE id IN (1, 3)"); n != 2 {
		t.Errorf("the promoted standby has %d of rows 1 and 3", n)
	}
	if err := standby.Promote(ctx); err == nil {
		t.Error("Promote of a primary: no error")
	}
}

// TestAsyncStandby checks that an asynchronous standby streams without holding the
// primary's commits.
func TestAsyncStandby(t *testing.T) {
	t.Parallel()
	primary := pgtest.New(t)
	ctx := testContext(t, 120*time.Second)
	standby := pgtest.Standby(t, primary, pgtest.Async)
	p := connect(t, ctx, primary.DSN("postgres"))
	exec(t, ctx, p, "CREATE TABLE entries (id int PRIMARY KEY)")
	exec(t, ctx, p, "INSERT INTO entries VALUES (1)")
	waitRows(t, ctx, connect(t, ctx, standby.DSN("postgres")), 1)

	if err := standby.Kill(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := p.Exec(short, "INSERT INTO entries VALUES (2)"); err != nil {
		t.Errorf("a commit with the asynchronous standby down: %v", err)
	}
}

// TestTwoSyncStandbys checks that a primary with two synchronous standbys waits for
// both.
func TestTwoSyncStandbys(t *testing.T) {
	t.Parallel()
	primary := pgtest.New(t)
	ctx := testContext(t, 120*time.Second)
	a := pgtest.Standby(t, primary, pgtest.Sync)
	b := pgtest.Standby(t, primary, pgtest.Sync)
	p := connect(t, ctx, primary.DSN("postgres"))
	if n := count(t, ctx, p, "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync' AND application_name IN ($1, $2)",
		a.Name(), b.Name()); n != 2 {
		t.Fatalf("%d of the 2 standbys are synchronous", n)
	}
	exec(t, ctx, p, "CREATE TABLE entries (id int PRIMARY KEY)")
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := p.Exec(short, "INSERT INTO entries VALUES (1)"); err == nil {
		t.Error("a commit returned while one of two synchronous standbys was down")
	}
}

// waitRows waits until table entries on conn has n rows.
func waitRows(t *testing.T, ctx context.Context, conn *pgx.Conn, n int) {
	t.Helper()
	for {
		var got int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM entries").Scan(&got)
		if err == nil && got == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("entries has %d rows (%v), want %d", got, err, n)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
