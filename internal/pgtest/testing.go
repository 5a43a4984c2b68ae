package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// New starts a server of its own for the test and stops it when the test ends. It
// skips the test under -short and fails it if the server cannot start (missing
// binaries included: the message says how to install them). When the test fails,
// the end of the server's log is in the test's output.
func New(t testing.TB) *Server {
	t.Helper()
	skipShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	s, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, s)
	return s
}

// Standby starts a standby of primary for the test (see Server.StartStandby) and
// stops it when the test ends, before primary if New started that.
func Standby(t testing.TB, primary *Server, mode Replication) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	s, err := primary.StartStandby(ctx, mode)
	if err != nil {
		t.Fatal(err)
	}
	cleanup(t, s)
	return s
}

func cleanup(t testing.TB, s *Server) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgtest: end of the log of %s (%s):\n%s", s.Name(), s.Addr(), s.LogTail(4000))
		}
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
}

func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("pgtest: real PostgreSQL server skipped in -short mode")
	}
}

// shared is the server of Shared: one per test binary, started by the first call.
var shared struct {
	mu  sync.Mutex
	srv *Server
	err error // the first start's failure, reported to every later caller
	n   int   // databases created
}

// Shared returns the DSN of a new, empty database for the test, on a server shared
// by every test of the test binary, and drops the database when the test ends.
// Each call makes a database of its own, so parallel tests do not collide; they do
// share the server's connections (max_connections 200), settings and load.
//
// The first call starts the server. It stops when the process exits; call Main
// from TestMain so that its directory is removed too. Shared skips the test under
// -short and fails it if the server cannot start.
func Shared(t testing.TB) string {
	t.Helper()
	skipShort(t)
	srv, name, err := sharedDatabase(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	dsn, err := srv.CreateDatabase(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.DropDatabase(ctx, name); err != nil {
			t.Log(err)
		}
	})
	return dsn
}

// sharedDatabase starts the shared server if needed and names a new database for
// test.
func sharedDatabase(test string) (*Server, string, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
		shared.srv, shared.err = Start(ctx, Options{})
		cancel()
		if shared.err != nil {
			shared.err = fmt.Errorf("%w (starting the server Shared keeps for the test binary)", shared.err)
		}
	}
	if shared.err != nil {
		return nil, "", shared.err
	}
	shared.n++
	return shared.srv, databaseName(test, shared.n), nil
}

// databaseName makes a database name from a test's name and a sequence number:
// lower case letters, digits and underscores, within PostgreSQL's 63 bytes.
func databaseName(test string, n int) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(test) {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	b.WriteString("_" + strconv.Itoa(n))
	return b.String()
}

// Main runs the tests and then stops the server of Shared, if they started it, and
// removes its directory. Call it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	srv := shared.srv
	shared.srv, shared.err = nil, errors.New("pgtest: Shared after Main stopped its server")
	shared.mu.Unlock()
	if srv != nil {
		if err := srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}
