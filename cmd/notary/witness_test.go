package main

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestWitnessFlags checks serve's witness flags: what they accept, and the usage error (exit
// 2) for what they do not.
func TestWitnessFlags(t *testing.T) {
	const vkey = "witness.test/other+236c8fbe+BKYmzhkoyBWmGmW5WAKcNGQdTtSmXH6PbeyEuejQ02Ih"
	const vkey2 = "w1.example+4140d3ca+BM7MFQfcHd1ylZUcKQiI8JWtuQRNG3PWlubfBl1oO9T8"
	for _, tc := range []struct {
		name      string
		args      []string
		witnesses int    // configured, when valid
		quorum    int    // the quorum in force, when valid
		err       string // a substring of the usage error
	}{
		{"none", nil, 0, 0, ""},
		{"one", []string{"--witness", "a http://127.0.0.1:1 " + vkey}, 1, 1, ""},
		{"two, one required", []string{"--witness", "a http://127.0.0.1:1 " + vkey, "--witness", "b https://b.example/w " + vkey2, "--witness-quorum", "1"}, 2, 1, ""},
		{"two in one value", []string{"--witness", "a http://127.0.0.1:1 " + vkey + "; b https://b.example/w " + vkey2}, 2, 2, ""},
		{"quorum without witnesses", []string{"--witness-quorum", "1"}, 0, 0, "without any --witness"},
		{"quorum above", []string{"--witness", "a http://127.0.0.1:1 " + vkey, "--witness-quorum", "2"}, 0, 0, "from 1 to the number of witnesses, 1"},
		{"a log key", []string{"--witness", "a http://127.0.0.1:1 notary.localhost/log+12ee5809+Aa/KxLdj4+abDtUetsAHtVI69CFbgbL8zZm5sGpTg0v9"}, 0, 0, "cosignature/v1"},
		{"not three fields", []string{"--witness", "a http://127.0.0.1:1"}, 0, 0, "NAME URL VKEY"},
		{"the same twice", []string{"--witness", "a http://127.0.0.1:1 " + vkey, "--witness", "b http://127.0.0.1:2 " + vkey}, 0, 0, "twice"},
		{"timeout zero", []string{"--witness", "a http://127.0.0.1:1 " + vkey, "--witness-timeout", "0s"}, 0, 0, "positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var f witnessFlags
			f.register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			p, err := f.pool(slog.New(slog.DiscardHandler))
			if tc.err != "" {
				var ce *cliError
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &ce) || ce.code != exitUsage {
					t.Fatalf("pool: %v, want a usage error saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.witnesses == 0 {
				if p != nil {
					t.Fatal("a pool without witnesses")
				}
				return
			}
			if got := len(p.Keys()); got != tc.witnesses || p.Quorum() != tc.quorum {
				t.Errorf("pool of %d witnesses, quorum %d; want %d, %d", got, p.Quorum(), tc.witnesses, tc.quorum)
			}
		})
	}
}
