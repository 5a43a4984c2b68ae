package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notary-dev/notary/internal/bitcoinrpc"
)

// TestNodeCredentials checks where the node's password can come from besides --node,
// which shows it in the process list: NOTARY_NODE, a config file, or a password file.
func TestNodeCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	passFile := write("rpcpass", "s3cret\n")
	crlfFile := write("rpcpass-crlf", "s3cret\r\nignored\n")
	emptyFile := write("empty", "\n")
	config := write("notary.conf", "node = http://alice:fromfile@127.0.0.1:8332\n")

	tests := []struct {
		name   string
		args   []string
		env    string // NOTARY_NODE
		config string
		want   bitcoinrpc.Config
		err    string // in the error, if any
		warn   bool   // a password on the command line
	}{
		{name: "in the URL", args: []string{"--node", "http://alice:pw@127.0.0.1:8332"},
			want: bitcoinrpc.Config{Host: "127.0.0.1:8332", User: "alice", Pass: "pw"}, warn: true},
		{name: "NOTARY_NODE", env: "http://alice:fromenv@10.0.0.2:8332",
			want: bitcoinrpc.Config{Host: "10.0.0.2:8332", User: "alice", Pass: "fromenv"}},
		{name: "config file", config: config,
			want: bitcoinrpc.Config{Host: "127.0.0.1:8332", User: "alice", Pass: "fromfile"}},
		{name: "password file", args: []string{"--node", "http://alice@127.0.0.1:8332", "--node-password-file", passFile},
			want: bitcoinrpc.Config{Host: "127.0.0.1:8332", User: "alice", Pass: "s3cret"}},
		{name: "password file, first line, CRLF", args: []string{"--node", "https://alice@node.example:8332", "--node-password-file", crlfFile},
			want: bitcoinrpc.Config{Host: "node.example:8332", User: "alice", Pass: "s3cret", TLS: true}},
		{name: "password file, user in NOTARY_NODE", env: "http://alice@127.0.0.1:8332", args: []string{"--node-password-file", passFile},
			want: bitcoinrpc.Config{Host: "127.0.0.1:8332", User: "alice", Pass: "s3cret"}},
		{name: "cookie", args: []string{"--node", "http://127.0.0.1:8332", "--node-cookie", "/var/lib/bitcoind/.cookie"},
			want: bitcoinrpc.Config{Host: "127.0.0.1:8332", CookieFile: "/var/lib/bitcoind/.cookie"}},

		{name: "password twice", args: []string{"--node", "http://alice:pw@127.0.0.1:8332", "--node-password-file", passFile},
			err: "give the password once", warn: true},
		{name: "password file without a user", args: []string{"--node", "http://127.0.0.1:8332", "--node-password-file", passFile},
			err: "needs the user"},
		{name: "password file and cookie", args: []string{"--node", "http://alice@127.0.0.1:8332", "--node-password-file", passFile, "--node-cookie", "c"},
			err: "give one"},
		{name: "password file missing", args: []string{"--node", "http://alice@127.0.0.1:8332", "--node-password-file", filepath.Join(dir, "nope")},
			err: "no such file"},
		{name: "password file empty", args: []string{"--node", "http://alice@127.0.0.1:8332", "--node-password-file", emptyFile},
			err: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NOTARY_NODE", tt.env) // and restored after the test
			if tt.env == "" {
				os.Unsetenv("NOTARY_NODE")
			}
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var f anchorFlags
			f.register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := applyConfig(fs, tt.config); err != nil {
				t.Fatal(err)
			}
			if got := passwordInArgs(fs); got != tt.warn {
				t.Errorf("password on the command line: %v, want %v", got, tt.warn)
			}
			cfg, err := f.rpcConfig()
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want one saying %q", err, tt.err)
				}
			case err != nil:
				t.Errorf("error %v", err)
			case cfg != tt.want:
				t.Errorf("config %+v, want %+v", cfg, tt.want)
			}
		})
	}
}
