package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
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

// TestVerifyWitnessGolden runs verify on the golden cosigned proofs with the witness keys
// and quorum their manifest gives: the valid ones exit 3 (pending, on keys you trust), the
// others 1, naming what is missing; and a malformed witness key or quorum is a usage error.
func TestVerifyWitnessGolden(t *testing.T) {
	var manifest []struct {
		File          string   `json:"file"`
		Trusted       []string `json:"trusted"`
		Valid         bool     `json:"valid"`
		Witnesses     []string `json:"witnesses"`
		WitnessQuorum int      `json:"witness_quorum"`
	}
	dir := filepath.Join("..", "..", "notary", "testdata", "proofs")
	if err := json.Unmarshal(mustRead(t, filepath.Join(dir, "manifest.json")), &manifest); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, m := range manifest {
		if len(m.Witnesses) == 0 {
			continue
		}
		ran++
		t.Run(m.File, func(t *testing.T) {
			args := []string{"verify", "--key", m.Trusted[0], "--witness-quorum", strconv.Itoa(m.WitnessQuorum)}
			for _, k := range m.Witnesses {
				args = append(args, "--witness-key", k)
			}
			args = append(args, filepath.Join(dir, m.File))
			if m.Valid {
				out, _ := wantCLI(t, exitPending, args...)
				if !strings.Contains(out, "cosigned by the witness") {
					t.Errorf("verify does not say who cosigned:\n%s", out)
				}
				return
			}
			_, stderr := wantCLI(t, exitInvalid, args...)
			if !strings.Contains(stderr, "required; missing") && !strings.Contains(stderr, "invalid signature for key") {
				t.Errorf("verify does not say what is missing or wrong:\n%s", stderr)
			}
		})
	}
	if ran < 5 {
		t.Fatalf("the manifest has %d cosigned proofs", ran)
	}
	proof := filepath.Join(dir, "valid-pending-cosigned.json")
	wantCLI(t, exitUsage, "verify", "--witness-key", "not-a-key", proof)
	wantCLI(t, exitUsage, "verify", "--witness-quorum", "1", proof)
	wantCLI(t, exitUsage, "verify", "--witness-key", manifest[0].Trusted[0], proof) // a log key, not a witness's
}
