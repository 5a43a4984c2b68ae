// Package btcdnode runs a real btcd node on loopback, for tests and for the local
// development stack.
//
// A Node is a child process listening for RPC (plain HTTP, no TLS) on a free
// loopback port with random credentials, and optionally for peers on another free
// loopback port. Its data, its own log files and its captured standard output all
// live under Options.Dir. On regtest btcd wipes its chain at every start; simnet
// keeps the chain across restarts of the same Dir.
package btcdnode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/notary-dev/notary/internal/bitcoinrpc"
)

// Default timings.
const (
	// StartTimeout bounds Start when ctx has no deadline.
	StartTimeout = 30 * time.Second
	// StopTimeout is how long Stop waits after SIGINT before it kills the process.
	StopTimeout = 15 * time.Second
	// startAttempts is how often Start retries when btcd exits at once (a port
	// chosen as free was taken in the meantime).
	startAttempts = 3
)

// Options configure a node.
type Options struct {
	// Binary is the btcd executable; empty means FindBinary.
	Binary string
	// Dir holds the chain data, btcd's log files and the captured output. Required.
	Dir string
	// Network is "regtest" (the default) or "simnet".
	Network string
	// MiningAddr receives the coinbase of generated blocks. Generate fails without it.
	MiningAddr string
	// RPCAddr is the "host:port" the node's JSON-RPC listens on; empty means a free
	// loopback port. Start fails at once, saying so, if the address is taken.
	RPCAddr string
	// Listen makes the node accept peers on a free loopback port (see P2PAddr).
	Listen bool
	// Connect lists peers ("host:port") to connect to at startup.
	Connect []string
	// Logger, when set, gets a line when the node starts and stops.
	Logger *slog.Logger
}

// Node is a running btcd process.
type Node struct {
	opts    Options
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	waitErr error         // valid once exited is closed
	rpcHost string
	p2pAddr string
	user    string
	pass    string
	logPath string
	rpc     *bitcoinrpc.Client
	logger  *slog.Logger

	stopOnce sync.Once
	stopErr  error
}

// Start launches btcd as described by o and returns once its RPC server answers.
// ctx bounds the start-up only (StartTimeout if it has no deadline); the node runs
// until Stop.
func Start(ctx context.Context, o Options) (*Node, error) {
	if o.Dir == "" {
		return nil, errors.New("btcdnode: Options.Dir is required")
	}
	switch o.Network {
	case "":
		o.Network = "regtest"
	case "regtest", "simnet":
	default:
		return nil, fmt.Errorf("btcdnode: network %q is not regtest or simnet", o.Network)
	}
	if o.Binary == "" {
		bin, err := FindBinary()
		if err != nil {
			return nil, err
		}
		o.Binary = bin
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, StartTimeout)
		defer cancel()
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("btcdnode: %w", err)
	}
	if o.RPCAddr != "" {
		ln, err := net.Listen("tcp", o.RPCAddr)
		if err != nil {
			return nil, fmt.Errorf("btcdnode: the RPC address %s cannot be used: %w", o.RPCAddr, err)
		}
		ln.Close()
	}
	var lastErr error
	for range startAttempts {
		n, err := start(ctx, o)
		if err == nil {
			return n, nil
		}
		lastErr = err
		if ctx.Err() != nil || !errors.Is(err, errExitedEarly) {
			break
		}
	}
	return nil, lastErr
}

var errExitedEarly = errors.New("btcdnode: btcd exited during start-up")

func start(ctx context.Context, o Options) (*Node, error) {
	rpcHost := o.RPCAddr
	if rpcHost == "" {
		rpcPort, err := freePort()
		if err != nil {
			return nil, err
		}
		rpcHost = net.JoinHostPort("127.0.0.1", strconv.Itoa(rpcPort))
	}
	n := &Node{
		opts:    o,
		exited:  make(chan struct{}),
		rpcHost: rpcHost,
		user:    randomHex(8),
		pass:    randomHex(16),
		logPath: filepath.Join(o.Dir, "btcd-output.log"),
		logger:  o.Logger,
	}
	var err error
	if n.rpc, err = bitcoinrpc.New(n.RPCConfig()); err != nil {
		return nil, err
	}
	args := []string{
		"--" + o.Network,
		"--datadir=" + filepath.Join(o.Dir, "data"),
		"--logdir=" + filepath.Join(o.Dir, "logs"),
		"--rpclisten=" + n.rpcHost,
		"--rpcuser=" + n.user,
		"--rpcpass=" + n.pass,
		"--notls",
		"--utxocachemaxsize=8",
		"--nodnsseed",
		"--nostalldetect",
		"--debuglevel=info",
	}
	if o.MiningAddr != "" {
		args = append(args, "--miningaddr="+o.MiningAddr)
	}
	if o.Listen {
		p2pPort, err := freePort()
		if err != nil {
			return nil, err
		}
		n.p2pAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p2pPort))
		args = append(args, "--listen="+n.p2pAddr)
	} else {
		args = append(args, "--nolisten")
	}
	for _, peer := range o.Connect {
		args = append(args, "--connect="+peer)
	}

	out, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("btcdnode: %w", err)
	}
	n.cmd = exec.Command(o.Binary, args...)
	n.cmd.Dir = o.Dir
	n.cmd.Stdout = out
	n.cmd.Stderr = out
	n.cmd.SysProcAttr = sysProcAttr()
	if err := n.cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("btcdnode: start %s: %w", o.Binary, err)
	}
	go func() {
		n.waitErr = n.cmd.Wait()
		out.Close()
		close(n.exited)
	}()

	if err := n.waitReady(ctx); err != nil {
		n.Stop()
		return nil, err
	}
	if n.logger != nil {
		n.logger.Info("btcd started", "network", o.Network, "rpc", n.rpcHost, "p2p", n.p2pAddr,
			"pid", n.cmd.Process.Pid, "dir", o.Dir)
	}
	return n, nil
}

// waitReady polls the RPC server until it answers, the process exits or ctx ends.
func (n *Node) waitReady(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		callCtx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := n.Call(callCtx, "getblockcount")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-n.exited:
			return fmt.Errorf("%w (%v); output:\n%s", errExitedEarly, n.waitErr, n.tail(2000))
		case <-ctx.Done():
			return fmt.Errorf("btcdnode: RPC at %s did not answer: %v (last: %v); output:\n%s",
				n.rpcHost, ctx.Err(), err, n.tail(2000))
		case <-tick.C:
		}
	}
}

// tail returns up to max bytes from the end of the captured output.
func (n *Node) tail(max int64) string {
	f, err := os.Open(n.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > max {
		f.Seek(fi.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// RPCHost returns the RPC server's "127.0.0.1:port".
func (n *Node) RPCHost() string { return n.rpcHost }

// RPCUser returns the RPC user name.
func (n *Node) RPCUser() string { return n.user }

// RPCPass returns the RPC password.
func (n *Node) RPCPass() string { return n.pass }

// RPCConfig returns how to reach the node's RPC server: its host and credentials.
func (n *Node) RPCConfig() bitcoinrpc.Config {
	return bitcoinrpc.Config{Host: n.rpcHost, User: n.user, Pass: n.pass}
}

// P2PAddr returns the "127.0.0.1:port" peers connect to, or "" without Options.Listen.
func (n *Node) P2PAddr() string { return n.p2pAddr }

// Dir returns the node's directory.
func (n *Node) Dir() string { return n.opts.Dir }

// Generate mines blocks (to Options.MiningAddr) and returns their hashes.
func (n *Node) Generate(ctx context.Context, blocks int) ([]chainhash.Hash, error) {
	raw, err := n.Call(ctx, "generate", blocks)
	if err != nil {
		return nil, err
	}
	var strs []string
	if err := json.Unmarshal(raw, &strs); err != nil {
		return nil, fmt.Errorf("btcdnode: generate: %w", err)
	}
	hashes := make([]chainhash.Hash, len(strs))
	for i, s := range strs {
		h, err := chainhash.NewHashFromStr(s)
		if err != nil {
			return nil, fmt.Errorf("btcdnode: generate: %w", err)
		}
		hashes[i] = *h
	}
	return hashes, nil
}

// BlockCount returns the height of the node's best chain.
func (n *Node) BlockCount(ctx context.Context) (int64, error) {
	raw, err := n.Call(ctx, "getblockcount")
	if err != nil {
		return 0, err
	}
	var h int64
	if err := json.Unmarshal(raw, &h); err != nil {
		return 0, fmt.Errorf("btcdnode: getblockcount: %w", err)
	}
	return h, nil
}

// ConnectPeer asks the node to connect to the peer at addr ("host:port").
func (n *Node) ConnectPeer(ctx context.Context, addr string) error {
	_, err := n.Call(ctx, "node", "connect", addr, "temp")
	return err
}

// DisconnectPeer asks the node to drop its connection to the peer at addr.
func (n *Node) DisconnectPeer(ctx context.Context, addr string) error {
	_, err := n.Call(ctx, "node", "disconnect", addr)
	return err
}

// Call performs one JSON-RPC call and returns the raw result. ctx bounds the call; the
// node's error answers are *bitcoinrpc.Error.
func (n *Node) Call(ctx context.Context, method string, params ...any) (json.RawMessage, error) {
	var raw json.RawMessage
	if err := n.rpc.Call(ctx, &raw, method, params...); err != nil {
		return nil, fmt.Errorf("btcdnode: %w", err)
	}
	return raw, nil
}

// Stop interrupts btcd, waits for it to exit and kills it if it has not exited after
// StopTimeout. It is safe to call more than once; later calls return the first result.
func (n *Node) Stop() error {
	n.stopOnce.Do(func() {
		n.stopErr = n.stop()
		if n.logger != nil {
			n.logger.Info("btcd stopped", "rpc", n.rpcHost, "err", n.stopErr)
		}
	})
	return n.stopErr
}

func (n *Node) stop() error {
	if n.rpc != nil {
		defer n.rpc.Close()
	}
	select {
	case <-n.exited:
		return nil
	default:
	}
	if err := n.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		n.cmd.Process.Kill()
	}
	timer := time.NewTimer(StopTimeout)
	defer timer.Stop()
	select {
	case <-n.exited:
		return nil
	case <-timer.C:
	}
	if err := n.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("btcdnode: kill: %w", err)
	}
	<-n.exited
	return fmt.Errorf("btcdnode: btcd did not stop within %v and was killed", StopTimeout)
}

// Exited reports whether the process has exited.
func (n *Node) Exited() bool {
	select {
	case <-n.exited:
		return true
	default:
		return false
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("btcdnode: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// sysProcAttr puts btcd in its own process group, so that an interrupt typed at the
// terminal reaches the parent, which then stops the node in order.
func sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{}
	setProcAttr(attr)
	return attr
}
