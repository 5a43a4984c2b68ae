// Package pgtest runs real PostgreSQL servers on loopback, for tests: Debian's
// server binaries, a fresh cluster in a temporary directory, one postgres process
// per Server.
//
// A Server listens on 127.0.0.1 on a free port and trusts every connection as the
// superuser "notary"; DSN and CreateDatabase give connection strings for pgx or
// database/sql. The cluster is durable as a production one is (fsync and
// synchronous_commit stay on), so Kill and Restart test crash recovery for real,
// and StartStandby and Promote test streaming replication and failover.
//
// PostgreSQL refuses to run as root. When the test runs as root the server and its
// tools run as the user "postgres", which Debian's package creates, and the
// server's directory is made in os.TempDir(), owned by that user. On Linux the
// server is killed when the process that started it dies, so a crashed test leaves
// no server behind; directories such a test leaves are removed by later Starts.
//
// The server binaries are found by FindBinDir; internal/pgtest/install.sh installs
// them on Debian. New, Shared and Main are the helpers for tests.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is the superuser every Server trusts, on every connection from 127.0.0.1.
const User = "notary"

// Default timings, generous for a busy two-core machine.
const (
	// StartTimeout bounds Start, Restart, StartStandby and Promote when ctx has no
	// deadline.
	StartTimeout = 60 * time.Second
	// StopTimeout is how long Stop and Restart wait for a fast shutdown before they
	// kill the server.
	StopTimeout = 60 * time.Second
	// startAttempts is how often Start tries another port when the one it chose
	// was taken in the meantime.
	startAttempts = 3
)

// settings are the postgresql.conf lines of every cluster, before Options.Settings.
// Durability is as in production; the rest suits tests and measurements on a
// small machine, and allows streaming replication from 127.0.0.1.
var settings = [][2]string{
	{"listen_addresses", "'127.0.0.1'"},
	{"max_connections", "200"},
	{"shared_buffers", "128MB"},
	{"fsync", "on"},
	{"synchronous_commit", "on"},
	{"full_page_writes", "on"},
	{"wal_level", "replica"},
	{"max_wal_senders", "10"},
	{"wal_keep_size", "128MB"},
	{"hot_standby", "on"},
	// A standby whose primary is gone retries it this often, and PostgreSQL 15 may
	// notice a promotion only at the next try (the default, 5s, makes failovers
	// take 5s at random).
	{"wal_retrieve_retry_interval", "100ms"},
	{"timezone", "'UTC'"},
	{"log_timezone", "'UTC'"},
	{"log_line_prefix", "'%m [%p] %q%a '"},
}

// Options configure a server.
type Options struct {
	// BinDir holds initdb, postgres and pg_basebackup; empty means FindBinDir.
	BinDir string
	// Settings are more postgresql.conf settings, written after pgtest's own and so
	// overriding them. Values are written as given: quote a string that is not a
	// single word or number ("'all'").
	Settings map[string]string
	// Logger, when set, gets a line when the server starts, stops, is killed or is
	// promoted.
	Logger *slog.Logger
}

// Replication is how a standby's primary waits for it.
type Replication int

const (
	// Async: commits on the primary do not wait for the standby.
	Async Replication = iota
	// Sync: a commit on the primary returns only once the standby has flushed it
	// to disk (synchronous_commit=on). While a synchronous standby is down, commits
	// on its primary wait.
	Sync
)

// Server is a PostgreSQL cluster in its own directory and the postgres process
// serving it. Its methods are safe for concurrent use.
type Server struct {
	bin     string
	dir     string // the server's directory: data/, postgres.log, the socket
	name    string // cluster_name, and application_name as a standby
	port    int
	runAs   *account // nil: run as ourselves
	logPath string
	logger  *slog.Logger
	unlock  func() // releases the directory's lock

	mu      sync.Mutex
	proc    *process // nil before the first launch
	standby bool     // started by StartStandby and not promoted
	syncs   []string // names of this primary's synchronous standbys
	stopped bool
	stopErr error
}

// process is one run of the postmaster.
type process struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the postmaster has exited
	waitErr error         // valid once exited is closed
	logFrom int64         // offset in the log where this run's output starts
}

type account struct{ uid, gid int }

// Start creates a cluster in a new temporary directory and starts a server on a
// free loopback port, returning once it accepts connections. ctx bounds the
// start-up only (StartTimeout if it has no deadline); the server runs until Stop
// or until this process exits.
func Start(ctx context.Context, o Options) (*Server, error) {
	ctx, cancel := withDefaultTimeout(ctx, StartTimeout)
	defer cancel()
	s, err := newServer(o)
	if err != nil {
		return nil, err
	}
	if err := s.initdb(ctx, o.Settings); err != nil {
		s.removeDir()
		return nil, err
	}
	if err := s.launchOnFreePort(ctx); err != nil {
		s.removeDir()
		return nil, err
	}
	return s, nil
}

// newServer makes the server's directory and resolves who runs the server.
func newServer(o Options) (*Server, error) {
	bin := o.BinDir
	if bin == "" {
		var err error
		if bin, err = FindBinDir(); err != nil {
			return nil, err
		}
	} else if err := checkBinDir(bin); err != nil {
		return nil, err
	}
	runAs, err := serverAccount()
	if err != nil {
		return nil, err
	}
	sweepStaleDirs(o.Logger)
	dir, unlock, err := makeDir(runAs)
	if err != nil {
		return nil, err
	}
	return &Server{
		bin:     bin,
		dir:     dir,
		name:    "pgtest_" + strings.TrimPrefix(filepath.Base(dir), dirPrefix),
		runAs:   runAs,
		logPath: filepath.Join(dir, "postgres.log"),
		logger:  o.Logger,
		unlock:  unlock,
	}, nil
}

// initdb creates the cluster in DataDir and writes its settings.
func (s *Server) initdb(ctx context.Context, extra map[string]string) error {
	out, err := s.run(ctx, "initdb", "-D", s.DataDir(), "-U", User, "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if err != nil {
		hint := ""
		if s.runAs != nil {
			hint = fmt.Sprintf(" (as root, the server runs as user postgres, which must be able to reach %s: set $TMPDIR to a directory it can)", s.dir)
		}
		return fmt.Errorf("pgtest: initdb: %v%s\n%s", err, hint, out)
	}
	var conf strings.Builder
	conf.WriteString("\n# pgtest\n")
	for _, kv := range settings {
		fmt.Fprintf(&conf, "%s = %s\n", kv[0], kv[1])
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		fmt.Fprintf(&conf, "%s = %s\n", k, extra[k])
	}
	return s.appendFile(filepath.Join(s.DataDir(), "postgresql.conf"), conf.String())
}

// appendFile appends text to a file of the cluster, keeping its owner.
func (s *Server) appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

var (
	errPortTaken   = errors.New("pgtest: the port was taken")
	errExitedEarly = errors.New("pgtest: postgres exited during start-up")
	// errMemoryInUse: processes of the server's previous run still hold its shared
	// memory.
	errMemoryInUse = errors.New("pgtest: processes of the killed server still hold its shared memory")
)

// launchOnFreePort starts the postmaster on a free port, trying another one if the
// port it chose is taken before the server binds it.
func (s *Server) launchOnFreePort(ctx context.Context) error {
	var err error
	for range startAttempts {
		if s.port, err = freePort(); err != nil {
			return err
		}
		s.mu.Lock()
		err = s.launch(ctx)
		s.mu.Unlock()
		if !errors.Is(err, errPortTaken) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// launch starts the postmaster on s.port and waits until it accepts connections.
// The caller holds s.mu.
func (s *Server) launch(ctx context.Context) error {
	out, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	var from int64
	if fi, err := out.Stat(); err == nil {
		from = fi.Size()
	}
	args := []string{"-D", s.DataDir(), "-p", strconv.Itoa(s.port), "-c", "cluster_name=" + s.name}
	if len(s.dir) < 90 { // a Unix socket path has room for about 107 bytes
		args = append(args, "-k", s.dir)
	} else {
		args = append(args, "-c", "unix_socket_directories=")
	}
	cmd := s.command(filepath.Join(s.bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), logFrom: from}
	go func() {
		p.waitErr = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	s.proc = p

	if err := s.waitReady(ctx, p); err != nil {
		s.killLocked()
		return err
	}
	if s.logger != nil {
		s.logger.Info("postgres started", "name", s.name, "addr", s.Addr(), "pid", cmd.Process.Pid,
			"dir", s.dir, "standby", s.standby)
	}
	return nil
}

// waitReady connects until the server accepts a connection, the postmaster exits
// or ctx ends.
func (s *Server) waitReady(ctx context.Context, p *process) error {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, s.DSN("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-p.exited:
			out := s.logSince(p.logFrom, 4000)
			if strings.Contains(out, "could not create any TCP/IP sockets") {
				return fmt.Errorf("%w: %d", errPortTaken, s.port)
			}
			if strings.Contains(out, "pre-existing shared memory block") {
				return fmt.Errorf("%w; log %s:\n%s", errMemoryInUse, s.logPath, out)
			}
			return fmt.Errorf("%w (%v); log %s:\n%s", errExitedEarly, p.waitErr, s.logPath, out)
		case <-ctx.Done():
			return fmt.Errorf("pgtest: the server at %s did not accept connections: %v (last: %v); log %s:\n%s",
				s.Addr(), ctx.Err(), err, s.logPath, s.logSince(p.logFrom, 4000))
		case <-tick.C:
		}
	}
}

// Stop shuts the server down (fast: open transactions are rolled back, clients are
// disconnected, a checkpoint is written), kills it if it has not stopped after
// StopTimeout, and removes its directory. It is safe to call more than once; later
// calls return the first result. A stopped Server cannot be restarted.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return s.stopErr
	}
	s.stopped = true
	s.stopErr = s.shutdownLocked()
	s.removeDir()
	if s.logger != nil {
		s.logger.Info("postgres stopped", "name", s.name, "addr", s.Addr(), "err", s.stopErr)
	}
	return s.stopErr
}

// shutdownLocked stops the postmaster if it runs. The caller holds s.mu.
func (s *Server) shutdownLocked() error {
	p := s.proc
	if p == nil || p.done() {
		return nil
	}
	// SIGINT is PostgreSQL's fast shutdown.
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return s.killLocked()
	}
	timer := time.NewTimer(StopTimeout)
	defer timer.Stop()
	select {
	case <-p.exited:
		return nil
	case <-timer.C:
	}
	if err := s.killLocked(); err != nil {
		return err
	}
	return fmt.Errorf("pgtest: postgres did not stop within %v and was killed; log %s:\n%s",
		StopTimeout, s.logPath, s.logSince(p.logFrom, 2000))
}

// Kill kills the postmaster and every process of the server at once (SIGKILL), as
// a crash or a power cut would, and returns once they have all exited. Work
// committed before Kill survives a Restart; nothing else does. Kill on a server
// that is not running does nothing.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.done() {
		return nil
	}
	err := s.killLocked()
	if s.logger != nil {
		s.logger.Info("postgres killed", "name", s.name, "addr", s.Addr(), "err", err)
	}
	return err
}

// killLocked kills the postmaster and its children and waits for them to be gone.
// The caller holds s.mu.
func (s *Server) killLocked() error {
	p := s.proc
	if p == nil {
		return nil
	}
	pids := killServer(p.cmd.Process.Pid)
	p.cmd.Process.Kill()
	<-p.exited
	// The backends must be gone too before the cluster can start again.
	deadline := time.Now().Add(30 * time.Second)
	for _, pid := range pids {
		for running(pid) {
			if time.Now().After(deadline) {
				return fmt.Errorf("pgtest: process %d of the server still runs 30s after SIGKILL", pid)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	return nil
}

// Restart stops the server if it runs (fast shutdown, as Stop) and starts it again
// in the same directory on the same port, so that DSNs stay valid. After Kill this
// is crash recovery. ctx bounds the start-up (StartTimeout if it has no deadline).
func (s *Server) Restart(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, StartTimeout)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("pgtest: Restart after Stop: start a new Server")
	}
	if err := s.shutdownLocked(); err != nil {
		return err
	}
	// The port was free a moment ago: give whoever holds it now a little time. Where
	// backends are not killed with their postmaster, wait for them to go.
	for portTries := 1; ; {
		err := s.launch(ctx)
		switch {
		case errors.Is(err, errPortTaken):
			if portTries == startAttempts {
				return fmt.Errorf("%v: another process listens on 127.0.0.1:%d", err, s.port)
			}
			portTries++
		case !errors.Is(err, errMemoryInUse):
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Running reports whether the server's postmaster runs.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !s.proc.done()
}

func (p *process) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// DSN returns the URL of database db on the server, as user User without TLS:
// postgres://notary@127.0.0.1:PORT/db?sslmode=disable. The database "postgres"
// always exists.
func (s *Server) DSN(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(User),
		Host:     s.Addr(),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Addr returns the server's "127.0.0.1:port". It stays the same across Restart.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the server's TCP port.
func (s *Server) Port() int { return s.port }

// Name returns the server's cluster_name, which is also a standby's
// application_name in its primary's pg_stat_replication.
func (s *Server) Name() string { return s.name }

// Dir returns the server's directory, which Stop removes.
func (s *Server) Dir() string { return s.dir }

// DataDir returns the cluster's data directory (PGDATA).
func (s *Server) DataDir() string { return filepath.Join(s.dir, "data") }

// LogPath returns the file that gets the server's log.
func (s *Server) LogPath() string { return s.logPath }

// LogTail returns up to max bytes from the end of the server's log.
func (s *Server) LogTail(max int64) string { return s.logSince(0, max) }

// CreateDatabase creates database name and returns its DSN.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := s.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgtest: create database %q: %w", name, err)
	}
	return s.DSN(name), nil
}

// DropDatabase drops database name if it exists, disconnecting its clients.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	if err := s.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("pgtest: drop database %q: %w", name, err)
	}
	return nil
}

// exec runs one statement in the database "postgres".
func (s *Server) exec(ctx context.Context, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// run runs one of the server's tools to completion, as the server's account, and
// returns its combined output.
func (s *Server) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	cmd := s.command(filepath.Join(s.bin, tool), args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return []byte(out.String()), err
	case <-ctx.Done():
		killGroup(cmd.Process.Pid)
		<-done
		return []byte(out.String()), ctx.Err()
	}
}

// command prepares a server binary to run in the server's directory, as the
// server's account, in its own process group, without the caller's libpq
// environment.
func (s *Server) command(path string, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Dir = s.dir
	env := []string{"LC_ALL=C", "TZ=UTC", "HOME=" + s.dir}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" ||
			k == "TZ" || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	attr := &syscall.SysProcAttr{}
	setProcAttr(attr)
	if s.runAs != nil {
		setCredential(attr, s.runAs.uid, s.runAs.gid)
	}
	cmd.SysProcAttr = attr
	return cmd
}

// logSince returns up to max bytes of the log from offset from on, the last ones.
func (s *Server) logSince(from, max int64) string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size()-from > max {
		from = fi.Size() - max
	}
	f.Seek(from, io.SeekStart)
	b, _ := io.ReadAll(f)
	return string(b)
}

// removeDir removes the server's directory and releases its lock. The server must
// not be running.
func (s *Server) removeDir() {
	removeSharedMemory(s.DataDir())
	os.RemoveAll(s.dir)
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
}

// serverAccount returns the account the server must run as: nil to run as
// ourselves, the user postgres when we are root.
func serverAccount() (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: PostgreSQL does not run as root and there is no user postgres (%v): %s",
			err, installHint)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgtest: user postgres has uid %q, gid %q", u.Uid, u.Gid)
	}
	return &account{uid: uid, gid: gid}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
