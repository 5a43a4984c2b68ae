package main

// Real `notary serve` processes for the replica tests: the binary built once per test
// binary, several processes on free loopback ports sharing one PostgreSQL database, each
// with its own data directory holding copies of the same keys, their stderr kept in files
// that a failing test shows, and every one killed when its test ends (or with the test
// binary, by the kernel).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// notaryBin is the notary binary the replica tests run, built by the first test that
// needs it.
var notaryBin struct {
	once sync.Once
	path string
	race bool
	err  error
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// notaryBinary builds this package into the test binary's own directory (the go tool's
// temporary work directory, removed when `go test` ends) and returns its path. Under -race
// the binary is built with -race too, so that a race in a replica fails the test that
// started it (see replicas.checkLogs); the packages are then already in the build cache.
func notaryBinary(t *testing.T) string {
	t.Helper()
	notaryBin.once.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			notaryBin.err = err
			return
		}
		notaryBin.path = filepath.Join(filepath.Dir(exe), "notary-replica")
		notaryBin.race = raceEnabled()
		args := []string{"build", "-o", notaryBin.path}
		if notaryBin.race {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			notaryBin.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out.Bytes())
		}
	})
	if notaryBin.err != nil {
		t.Fatal(notaryBin.err)
	}
	return notaryBin.path
}

// replicaClient is the client of the replica tests. Its timeout bounds one attempt; a
// process killed under a request resets the connection at once, so only a hang reaches it.
var replicaClient = &http.Client{
	Timeout: time.Minute,
	Transport: func() *http.Transport {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
		return tr
	}(),
}

// replica is one `notary serve` process: the current one of its slot.
type replica struct {
	slot    int
	pid     int
	log     string        // its stderr
	exited  chan struct{} // closed once it has exited and been reaped
	waitErr error         // how it exited, valid once exited is closed
	cmd     *exec.Cmd
}

// replicas is a set of notary processes sharing one database. Each slot has a data
// directory and a port of its own, which a replacement of its process reuses.
type replicas struct {
	t    *testing.T
	bin  string
	c    *chain
	db   string
	logs string   // the directory of every process's stderr
	args []string // more flags for every process

	dirs  []string
	addrs []string
	urls  []string

	mu      sync.Mutex
	procs   []*replica // the current process of each slot; nil when none runs
	started int        // processes started, for their log files' names
	all     []*replica // every process started, in order
}

// startReplicas starts n notary processes on c's node and the database db and returns
// once each is ready. The first runs on c's data directory, where it creates the log and
// webhook keys beside c's bitcoin.key; the others get copies of the three keys. Every
// process is killed when the test ends, before the node and the database stop.
func startReplicas(t *testing.T, c *chain, db string, n int) *replicas {
	t.Helper()
	return startReplicasWith(t, c, db, n, nil)
}

// startReplicasWith is startReplicas with more flags for every process.
func startReplicasWith(t *testing.T, c *chain, db string, n int, args []string) *replicas {
	t.Helper()
	rs := &replicas{
		t: t, bin: notaryBinary(t), c: c, db: db, logs: t.TempDir(), args: args,
		procs: make([]*replica, n),
	}
	t.Cleanup(rs.cleanup)
	for i := range n {
		dir := c.data
		if i > 0 {
			dir = t.TempDir()
			// The keys, and the TSA's chain replica 0 made, as an operator copies them.
			for _, key := range []string{"log.key", "bitcoin.key", "webhook.key", tsaChainFile, tsaKeyFile} {
				data, err := os.ReadFile(filepath.Join(c.data, key))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, key), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		addr := freeLoopbackAddr(t)
		rs.dirs = append(rs.dirs, dir)
		rs.addrs = append(rs.addrs, addr)
		rs.urls = append(rs.urls, "http://"+addr)
		rs.start(i)
		rs.waitReady(i)
	}
	return rs
}

// freeLoopbackAddr returns a loopback address with a port nothing listens on now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// childEnv is the environment of a notary process: the test's, without NOTARY_ settings
// (the command line says everything), and with a race report stopping the process.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NOTARY_") && !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	return append(env, "GORACE=halt_on_error=1")
}

// start starts the process of slot i; it does not wait for it to be ready.
func (rs *replicas) start(i int) *replica {
	t := rs.t
	t.Helper()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.procs[i] != nil {
		t.Fatalf("replica %d started while its process %d runs", i, rs.procs[i].pid)
	}
	rs.started++
	logPath := filepath.Join(rs.logs, fmt.Sprintf("%02d-replica%d.log", rs.started, i))
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(rs.bin, "serve",
		"--db", rs.db,
		"--data", rs.dirs[i],
		"--addr", rs.addrs[i],
		"--network", "regtest",
		"--node", rs.c.rpcURL(),
		"--anchor-interval", "1s",
		"--depth", "1",
		"--fee-floor", "1",
		"--fee-cap", "50",
		"--bump-after", "1h",
		"--anon-rate", "0",
		"--anon-digest-rate", "0",
		"--key-rate", "0",
		"--max-conns-per-client", "0", // the test's clients and processes are all 127.0.0.1
	)
	cmd.Args = append(cmd.Args, rs.args...)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting replica %d: %v", i, err)
	}
	p := &replica{slot: i, pid: cmd.Process.Pid, log: logPath, exited: make(chan struct{}), cmd: cmd}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	rs.procs[i] = p
	rs.all = append(rs.all, p)
	return p
}

// proc returns the current process of slot i, or nil.
func (rs *replicas) proc(i int) *replica {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.procs[i]
}

// live returns the slots whose process runs.
func (rs *replicas) live() []int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var slots []int
	for i, p := range rs.procs {
		if p != nil {
			slots = append(slots, i)
		}
	}
	return slots
}

// slotOf returns the slot that listens at url, or -1.
func (rs *replicas) slotOf(url string) int {
	for i, u := range rs.urls {
		if u == url {
			return i
		}
	}
	return -1
}

// kill sends SIGKILL to the process of slot i and waits until it is gone.
func (rs *replicas) kill(i int) {
	t := rs.t
	t.Helper()
	p := rs.proc(i)
	if p == nil {
		t.Fatalf("replica %d has no process to kill", i)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("killing replica %d (pid %d): %v", i, p.pid, err)
	}
	select {
	case <-p.exited:
	case <-time.After(waitLimit):
		t.Fatalf("replica %d (pid %d) still runs %v after SIGKILL", i, p.pid, waitLimit)
	}
	rs.mu.Lock()
	rs.procs[i] = nil
	rs.mu.Unlock()
}

// restart starts a new process on slot i's data directory and port, and waits until it is
// ready.
func (rs *replicas) restart(i int) {
	rs.t.Helper()
	rs.start(i)
	rs.waitReady(i)
}

// readyView is the part of /readyz the tests read.
type readyView struct {
	Ready bool   `json:"ready"`
	Role  string `json:"role"`
}

// readyz gets /readyz of url.
func readyz(url string) (readyView, int, error) {
	var v readyView
	code, err := getJSON(url+"/readyz", &v)
	return v, code, err
}

// waitReady waits until the process of slot i answers /readyz with 200, failing the test
// with its log if it exits first.
func (rs *replicas) waitReady(i int) {
	t := rs.t
	t.Helper()
	p := rs.proc(i)
	deadline := time.Now().Add(waitLimit)
	var last string
	for {
		select {
		case <-p.exited:
			t.Fatalf("replica %d (pid %d) exited before it was ready: %v\n%s", i, p.pid, p.waitErr, tail(p.log, 8000))
		default:
		}
		v, code, err := readyz(rs.urls[i])
		if err == nil && code == http.StatusOK && v.Ready {
			return
		}
		last = fmt.Sprintf("%d %+v %v", code, v, err)
		if time.Now().After(deadline) {
			t.Fatalf("replica %d (pid %d) not ready after %v: /readyz %s\n%s", i, p.pid, waitLimit, last, tail(p.log, 8000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cleanup kills every process, reports a race found in any process's log, and shows the
// logs if the test failed.
func (rs *replicas) cleanup() {
	t := rs.t
	for i := range rs.procs {
		if p := rs.proc(i); p != nil {
			p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
		}
	}
	for _, p := range rs.all {
		data, err := os.ReadFile(p.log)
		if err != nil {
			t.Error(err)
			continue
		}
		if i := bytes.Index(data, []byte("WARNING: DATA RACE")); i >= 0 {
			t.Errorf("replica %d (pid %d) reported a data race:\n%s", p.slot, p.pid, data[i:])
		}
	}
	if t.Failed() {
		for _, p := range rs.all {
			t.Logf("log of replica %d, pid %d (%s, exit: %v):\n%s", p.slot, p.pid, rs.urls[p.slot], p.waitErr, tail(p.log, 12000))
		}
	}
}

// tail returns the last n bytes of a file, from a line's start.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(data) <= n {
		return string(data)
	}
	data = data[len(data)-n:]
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[i+1:]
	}
	return "…\n" + string(data)
}

// getJSON gets url and decodes a 200 answer into v; it returns the status code, and an
// error for a failed request or any other status.
func getJSON(url string, v any) (int, error) {
	resp, err := replicaClient.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		// /readyz answers its JSON with 503 too.
		_ = json.Unmarshal(raw, v)
		return resp.StatusCode, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(raw))
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s: %v", url, err)
	}
	return resp.StatusCode, nil
}

// writerView is the writer a process reports in /v1/status.
type writerView struct {
	URL         string    `json:"url"`
	Epoch       int64     `json:"epoch"`
	Since       time.Time `json:"since"`
	ThisProcess bool      `json:"this_process"`
}

// replicaStatus is the part of /v1/status the replica tests read.
type replicaStatus struct {
	LogSize     int64              `json:"log_size"`
	Checkpoint  api.CheckpointView `json:"checkpoint"`
	Writer      *writerView        `json:"writer"`
	FollowerLag *struct {
		Entries int64 `json:"entries"`
	} `json:"follower_lag"`
}

// status gets /v1/status of url.
func status(url string) (replicaStatus, error) {
	var s replicaStatus
	_, err := getJSON(url+"/v1/status", &s)
	return s, err
}

// signedCheckpoint gets /v1/checkpoint of url and opens it with the log's key.
func signedCheckpoint(url, vkey string) (notary.Checkpoint, error) {
	resp, err := replicaClient.Get(url + "/v1/checkpoint")
	if err != nil {
		return notary.Checkpoint{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return notary.Checkpoint{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return notary.Checkpoint{}, fmt.Errorf("GET %s/v1/checkpoint: %s: %s", url, resp.Status, bytes.TrimSpace(raw))
	}
	cp, err := notary.OpenCheckpoint(raw, vkey)
	if err != nil {
		return notary.Checkpoint{}, fmt.Errorf("GET %s/v1/checkpoint: %v", url, err)
	}
	return cp, nil
}

// logKey returns the log's verifier key, as url publishes it.
func logKey(t *testing.T, url string) string {
	t.Helper()
	var k api.KeysView
	if _, err := getJSON(url+"/v1/keys", &k); err != nil {
		t.Fatal(err)
	}
	return k.LogKey
}

// checkConsistent checks, with a proof url gives, that the tree of old's size and root is
// a prefix of the tree of final's.
func checkConsistent(url string, oldSize int64, oldRoot merkle.Hash, final notary.Checkpoint) error {
	var v api.ConsistencyView
	q := url + "/v1/proofs/consistency?old=" + strconv.FormatInt(oldSize, 10) + "&new=" + strconv.FormatInt(final.Size, 10)
	if _, err := getJSON(q, &v); err != nil {
		return err
	}
	if v.Old != oldSize || v.New != final.Size || v.NewRoot != final.Root || (oldSize > 0 && v.OldRoot != oldRoot) {
		return fmt.Errorf("consistency %d→%d: the answer is for %d (root %s) → %d (root %s); want roots %s and %s",
			oldSize, final.Size, v.Old, v.OldRoot, v.New, v.NewRoot, oldRoot, final.Root)
	}
	if err := merkle.VerifyConsistency(oldSize, final.Size, oldRoot, final.Root, v.Proof); err != nil {
		return fmt.Errorf("checkpoint %d (root %s) is not consistent with the final checkpoint %d (root %s): %v",
			oldSize, oldRoot, final.Size, final.Root, err)
	}
	return nil
}

// ctxSleep sleeps for d or until ctx is done, and reports whether ctx is still live.
func ctxSleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
