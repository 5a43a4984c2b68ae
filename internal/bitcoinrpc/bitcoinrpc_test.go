package bitcoinrpc_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/internal/bitcoinrpc"
	"github.com/notary-dev/notary/internal/btcdnode"
	"github.com/notary-dev/notary/internal/btcdnode/btcdtest"
)

// patience bounds the waits of these tests: a guard against a hang, not a measure of speed.
const patience = 2 * time.Minute

func newClient(t *testing.T, cfg bitcoinrpc.Config) *bitcoinrpc.Client {
	t.Helper()
	c, err := bitcoinrpc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestBtcd calls a real btcd: results, its error answers as *Error, the credentials of
// the config and of a cookie file, and the cap on the answer's size.
func TestBtcd(t *testing.T) {
	t.Parallel()
	node := btcdtest.Start(t, btcdnode.Options{})
	ctx := btcdtest.Context(t, patience)
	c := newClient(t, node.RPCConfig())

	var height int64
	if err := c.Call(ctx, &height, "getblockcount"); err != nil || height != 0 {
		t.Fatalf("getblockcount = %d, %v; want 0 on a fresh regtest chain", height, err)
	}
	var genesis string
	if err := c.Call(ctx, &genesis, "getblockhash", 0); err != nil {
		t.Fatal(err)
	}
	// The genesis block of regtest.
	if genesis != "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206" {
		t.Errorf("getblockhash 0 = %s, not regtest's genesis", genesis)
	}
	if err := c.Call(ctx, nil, "getblockcount"); err != nil {
		t.Errorf("a call without a result to decode: %v", err)
	}

	t.Run("error answer", func(t *testing.T) {
		err := c.Call(ctx, &genesis, "getblockhash", 1000)
		var rpcErr *bitcoinrpc.Error
		if !errors.As(err, &rpcErr) || rpcErr.Method != "getblockhash" || rpcErr.Code == 0 || rpcErr.Message == "" {
			t.Fatalf("getblockhash beyond the tip: %v, want an *Error with the node's code and message", err)
		}
		if !strings.HasPrefix(err.Error(), "node: getblockhash: ") {
			t.Errorf("error %q does not say the method", err)
		}
		err = c.Call(ctx, nil, "nosuchmethod")
		if !errors.As(err, &rpcErr) || rpcErr.Code != bitcoinrpc.CodeMethodNotFound {
			t.Errorf("an unknown method: %v, want code %d", err, bitcoinrpc.CodeMethodNotFound)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		cfg := node.RPCConfig()
		cfg.Pass = "wrong"
		err := newClient(t, cfg).Call(ctx, nil, "getblockcount")
		if err == nil || !strings.Contains(err.Error(), "check the RPC user and password") {
			t.Fatalf("a wrong password: %v, want a refusal that says to check the credentials", err)
		}
		if strings.Contains(err.Error(), node.RPCPass()) || strings.Contains(err.Error(), "wrong") {
			t.Errorf("the error %q shows a password", err)
		}
	})

	t.Run("cookie", func(t *testing.T) {
		cookie := filepath.Join(t.TempDir(), ".cookie")
		cfg := bitcoinrpc.Config{Host: node.RPCHost(), CookieFile: cookie}
		c := newClient(t, cfg)
		if err := c.Call(ctx, nil, "getblockcount"); err == nil || !strings.Contains(err.Error(), "cookie") {
			t.Errorf("a missing cookie file: %v", err)
		}
		os.WriteFile(cookie, []byte("no colon\n"), 0o600)
		if err := c.Call(ctx, nil, "getblockcount"); err == nil || !strings.Contains(err.Error(), "not user:password") {
			t.Errorf("a cookie without a colon: %v", err)
		}
		// The file is read at every call: bitcoind rewrites it when it restarts.
		os.WriteFile(cookie, []byte(node.RPCUser()+":"+node.RPCPass()+"\n"), 0o600)
		if err := c.Call(ctx, nil, "getblockcount"); err != nil {
			t.Errorf("cookie authentication: %v", err)
		}
	})

	t.Run("answer too long", func(t *testing.T) {
		cfg := node.RPCConfig()
		cfg.MaxResponse = 200
		small := newClient(t, cfg)
		var hash string
		if err := small.Call(ctx, &hash, "getblockhash", 0); err != nil {
			t.Fatalf("an answer under the cap: %v", err)
		}
		// The verbose genesis block is several hundred bytes.
		var blk json.RawMessage
		err := small.Call(ctx, &blk, "getblock", hash, 1)
		if err == nil || !strings.Contains(err.Error(), "longer than 200 bytes") {
			t.Fatalf("an answer over the cap: %v, want an error that says the cap", err)
		}
		if err := c.Call(ctx, &blk, "getblock", hash, 1); err != nil || len(blk) <= 200 {
			t.Fatalf("the same answer under the default cap: %d bytes, %v", len(blk), err)
		}
	})
}

// TestDeadline talks to a server that accepts connections and never answers: a call ends
// with its context's deadline, or after Config.Timeout when the context has none. Both
// are far shorter than the hang guard, and the other bound is far longer, so a call that
// ignored the one that applies would hang until the guard fails the test.
func TestDeadline(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	call := func(t *testing.T, c *bitcoinrpc.Client, ctx context.Context) error {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- c.Call(ctx, nil, "getblockcount") }()
		select {
		case err := <-done:
			return err
		case <-time.After(patience):
			t.Fatalf("no return after %v", patience)
			return nil
		}
	}

	t.Run("context", func(t *testing.T) {
		c := newClient(t, bitcoinrpc.Config{Host: l.Addr().String(), Timeout: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := call(t, c, ctx); !errors.Is(err, context.DeadlineExceeded) || ctx.Err() == nil {
			t.Errorf("a silent server: %v (context: %v), want DeadlineExceeded when the context ended", err, ctx.Err())
		}
	})
	t.Run("timeout", func(t *testing.T) {
		c := newClient(t, bitcoinrpc.Config{Host: l.Addr().String(), Timeout: 200 * time.Millisecond})
		if err := call(t, c, context.Background()); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a silent server: %v, want DeadlineExceeded after Config.Timeout", err)
		}
	})
}

// TestNotANode points the client at a web server that is not a node: the error says so,
// with what it answered made printable.
func TestNotANode(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html>\x1b[2Jhello</html>"))
	}))
	defer srv.Close()
	cfg, err := bitcoinrpc.FromURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	err = newClient(t, cfg).Call(context.Background(), nil, "getblockcount")
	if err == nil || !strings.Contains(err.Error(), "not a JSON-RPC answer") || strings.Contains(err.Error(), "\x1b") {
		t.Fatalf("a web server: %v, want an error that says it is no node, without control characters", err)
	}
}

func TestNew(t *testing.T) {
	if _, err := bitcoinrpc.New(bitcoinrpc.Config{}); err == nil {
		t.Error("New without a host succeeded")
	}
	if _, err := bitcoinrpc.New(bitcoinrpc.Config{Host: "h:1", TLS: true, CertFile: filepath.Join(t.TempDir(), "none")}); err == nil {
		t.Error("New with a missing certificate succeeded")
	}
	bad := filepath.Join(t.TempDir(), "cert")
	os.WriteFile(bad, []byte("not PEM"), 0o600)
	if _, err := bitcoinrpc.New(bitcoinrpc.Config{Host: "h:1", TLS: true, CertFile: bad}); err == nil {
		t.Error("New with a non-PEM certificate succeeded")
	}
}

func TestFromURL(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want bitcoinrpc.Config
		ok   bool
	}{
		{"http://alice:pw@127.0.0.1:8332", bitcoinrpc.Config{Host: "127.0.0.1:8332", User: "alice", Pass: "pw"}, true},
		{"http://alice@127.0.0.1:8332", bitcoinrpc.Config{Host: "127.0.0.1:8332", User: "alice"}, true},
		{"http://127.0.0.1:8332", bitcoinrpc.Config{Host: "127.0.0.1:8332"}, true},
		{"https://node.example:8334", bitcoinrpc.Config{Host: "node.example:8334", TLS: true}, true},
		{"http://a:b@127.0.0.1:8332/wallet/w", bitcoinrpc.Config{Host: "127.0.0.1:8332", Path: "/wallet/w", User: "a", Pass: "b"}, true},
		{"127.0.0.1:8332", bitcoinrpc.Config{}, false},
		{"ftp://127.0.0.1:8332", bitcoinrpc.Config{}, false},
		{"http://127.0.0.1:8332/?x=1", bitcoinrpc.Config{}, false},
		{"http://", bitcoinrpc.Config{}, false},
		{"://x", bitcoinrpc.Config{}, false},
	} {
		got, err := bitcoinrpc.FromURL(tt.url)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("FromURL(%q) = %+v, %v; want %+v, ok %v", tt.url, got, err, tt.want, tt.ok)
		}
	}
}

// FuzzDecodeReply feeds the decoder of answers what a hostile or broken node could send: it
// never panics, what it accepts is JSON, an error answer is an *Error, and what the error
// quotes of the answer is printable ASCII.
func FuzzDecodeReply(f *testing.F) {
	for _, s := range []string{
		`{"result":"0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206","error":null,"id":1}`,
		`{"result":null,"error":{"code":-8,"message":"Block number out of range"},"id":1}`,
		`{"result":12,"error":null,"id":1}`, `{"result":"x"}`, `{"error":{"code":"x"}}`,
		"<html>\x1b[2J</html>", ``, `null`, `[]`, `{"result":1e400}`,
		`{"result":null,"error":{"code":-1,"message":"\u001b[2Jcleared"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var hash string
		err := bitcoinrpc.DecodeReply("getblockhash", "200 OK", data, &hash)
		var rpcErr *bitcoinrpc.Error
		switch {
		case err == nil:
			if !json.Valid(data) {
				t.Fatalf("accepted %q, which is not JSON", data)
			}
		case errors.As(err, &rpcErr):
			if rpcErr.Method != "getblockhash" {
				t.Fatalf("error answer of method %q", rpcErr.Method)
			}
			fallthrough
		case strings.Contains(err.Error(), "not a JSON-RPC answer"):
			for _, r := range err.Error() {
				if r < 0x20 || r >= 0x7f {
					t.Fatalf("the error %q quotes a character that is not printable ASCII", err)
				}
			}
		}
	})
}
