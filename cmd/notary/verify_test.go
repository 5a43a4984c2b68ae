package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/notary"
)

// fakeChainNode serves the JSON-RPC getblockhash of a node whose block 0 is genesis and
// whose block at height is hash (both as nodes print them), and nothing else.
func fakeChainNode(t *testing.T, genesis string, height int64, hash string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Method string            `json:"method"`
			Params []json.RawMessage `json:"params"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		var result any
		switch {
		case req.Method == "getblockhash" && len(req.Params) == 1 && string(req.Params[0]) == "0":
			result = genesis
		case req.Method == "getblockhash" && len(req.Params) == 1 && string(req.Params[0]) == jsonInt(height):
			result = hash
		default:
			json.NewEncoder(w).Encode(map[string]any{"result": nil, "error": map[string]any{"code": -8, "message": "Block height out of range"}})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"result": result, "error": nil})
	}))
	t.Cleanup(srv.Close)
	return "http://user:pass@" + strings.TrimPrefix(srv.URL, "http://")
}

// TestVerifyExitStatus runs verify on the golden proofs with every kind of key and chain
// source, and requires the exit status that "notary verify -h" and the README document,
// with the line that says why.
func TestVerifyExitStatus(t *testing.T) {
	t.Parallel()
	golden := func(name string) string { return filepath.Join("..", "..", "notary", "testdata", "proofs", name) }
	dir := t.TempDir()
	complete, err := notary.ParseProof(mustRead(t, golden("valid-complete.json")))
	if err != nil {
		t.Fatal(err)
	}
	block := notary.ReverseHex(notary.Header(complete.Bitcoin.Header).Hash())
	height := complete.Bitcoin.Height
	logKey := logtest.LogVkey
	otherKey := "notary.example/other+e784a5df+ATMGrA50yNSDUqUvB5flY5eb4a6BWsfrn7Vk8W2Daj1c"
	mainnetGenesis := "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
	node := fakeChainNode(t, regtestGenesis, height, block)
	mainnetNode := fakeChainNode(t, mainnetGenesis, height, block)
	otherBlock := strings.Repeat("ab", 32)

	keysFile := filepath.Join(dir, "keys.txt")
	writeFile(t, keysFile, "# the notaries we trust\n"+otherKey+"\n\n  "+logKey+"  \n")
	otherKeysFile := filepath.Join(dir, "other-keys.txt")
	writeFile(t, otherKeysFile, otherKey+"\n")
	emptyKeysFile := filepath.Join(dir, "empty-keys.txt")
	writeFile(t, emptyKeysFile, "# none yet\n\n")
	badKeysFile := filepath.Join(dir, "bad-keys.txt")
	writeFile(t, badKeysFile, logKey+"\nnot-a-key\n")
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := "http://" + strings.TrimPrefix(down.URL, "http://")
	down.Close()

	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout, or in the error or note line
	}{
		// 0: complete, its block checked.
		{"complete, trusted block", []string{"--block", block, golden("valid-complete.json")}, exitOK, "the block is the one you said you trust"},
		{"complete, node", []string{"--node", node, golden("valid-complete.json")}, exitOK, "has this block at height 144 in its best chain"},
		{"complete, node and key", []string{"--node", node, "--key", logKey, golden("valid-complete.json")}, exitOK, "checkpoint signed by a key you trust"},
		{"complete by another key, trusted block", []string{"--block", block, "--key", logKey, golden("complete-signed-by-unknown-key.json")}, exitOK, "NOT trusted: that key"},
		{"complete on simnet, trusted block", []string{"--block", block, golden("valid-complete-simnet.json")}, exitOK, "within simnet's limit"},
		// 1: invalid, forged, not trusted.
		{"transaction altered", []string{"--block", block, golden("tx-byte-flipped.json")}, exitInvalid, "block check failed"},
		{"relabelled mainnet", []string{golden("header-bits-above-mainnet-limit.json")}, exitInvalid, "easier than mainnet allows"},
		{"relabelled mainnet, against a regtest node", []string{"--node", node, golden("header-bits-above-mainnet-limit.json")}, exitInvalid, "anchored on mainnet, but your node at"},
		{"regtest proof, against a mainnet node", []string{"--node", mainnetNode, golden("valid-complete.json")}, exitInvalid, "follows mainnet (its block 0 is " + mainnetGenesis},
		{"unknown network", []string{golden("network-bitcoin.json")}, exitInvalid, `network "bitcoin" is not one of`},
		{"another trusted block", []string{"--block", otherBlock, golden("valid-complete.json")}, exitInvalid, "the block you trust has block " + otherBlock},
		{"pending, another key given", []string{"--key", otherKey, golden("valid-pending.json")}, exitInvalid, "key check failed"},
		{"pending, another keys file", []string{"--keys", otherKeysFile, golden("valid-pending.json")}, exitInvalid, "not by a key you trust"},
		{"pending by a made-up key, the log's key given", []string{"--key", logKey, golden("pending-signed-by-unknown-key.json")}, exitInvalid, "key check failed"},
		{"pending of another log, the log's key given", []string{"--key", logKey, golden("pending-of-another-log.json")}, exitInvalid, "key check failed"},
		{"checkpoint of another key", []string{"--key", logKey, golden("checkpoint-signed-by-another-key.json")}, exitInvalid, "checkpoint check failed"},
		{"not a proof", []string{golden("truncated.json")}, exitInvalid, "format check failed"},
		// 2: usage and I/O.
		{"missing file", []string{filepath.Join(dir, "missing.proof.json")}, exitUsage, "missing.proof.json"},
		{"bad --key", []string{"--key", "not-a-key", golden("valid-pending.json")}, exitUsage, `--key: "not-a-key" is not a log key`},
		{"missing --keys file", []string{"--keys", filepath.Join(dir, "nope.txt"), golden("valid-pending.json")}, exitUsage, "--keys: open "},
		{"empty --keys file", []string{"--keys", emptyKeysFile, golden("valid-pending.json")}, exitUsage, "lists no keys"},
		{"bad line in --keys", []string{"--keys", badKeysFile, golden("valid-pending.json")}, exitUsage, badKeysFile + `:2: "not-a-key" is not a log key`},
		{"node down", []string{"--node", downURL, golden("valid-complete.json")}, exitUsage, "asking the node for its block 0"},
		// 3: pending, resting on a key the user trusts.
		{"pending, the log's key", []string{"--key", logKey, golden("valid-pending.json")}, exitPending, "checkpoint signed by a key you trust (" + logKey + ")"},
		{"pending, keys file", []string{"--keys", keysFile, golden("valid-pending.json")}, exitPending, "the proof is pending: no Bitcoin block commits it yet, so it rests on the signature of the log key you trust"},
		{"pending, the key twice", []string{"--key", logKey, "--keys", keysFile, golden("valid-pending.json")}, exitPending, "a key you trust"},
		{"pending .ots", []string{filepath.Join("..", "..", "calendar", "testdata", "notary-pending.ots")}, exitPending, "rests on its calendar's word"},
		// 4: complete, its block not checked.
		{"complete, no chain source", []string{golden("valid-complete.json")}, exitUnchecked, "not checked against any chain source"},
		{"complete, key but no chain source", []string{"--key", logKey, golden("valid-complete.json")}, exitUnchecked, "NOT checked: that block " + block},
		{"complete .ots, no chain source", []string{filepath.Join("..", "..", "calendar", "testdata", "notary-complete.ots")}, exitUnchecked, "need a node or an explorer"},
		// 5: pending, signed only by the key it names.
		{"pending, no key", []string{golden("valid-pending.json")}, exitPendingOwnKey, "NOT checked: that " + logKey + " is the log's key"},
		{"pending by a made-up key, no key", []string{golden("pending-signed-by-unknown-key.json")}, exitPendingOwnKey, "which you did not say you trust"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, append([]string{"verify"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("notary verify %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tt.args, " "), code, tt.code, stdout, stderr)
			}
			said := stdout + errLine(stderr) + noteLine(stderr)
			if !strings.Contains(said, tt.want) {
				t.Errorf("notary verify %s: no %q in\nstdout:\n%s\nstderr:\n%s", strings.Join(tt.args, " "), tt.want, stdout, stderr)
			}
			switch {
			case code == exitOK && stderr != "":
				t.Errorf("exit 0 with stderr:\n%s", stderr)
			case code == exitInvalid || code == exitUsage:
				if errLine(stderr) == "" {
					t.Errorf("exit %d without an error line:\n%s", code, stderr)
				}
			case code != exitOK && noteLine(stderr) == "":
				t.Errorf("exit %d without a note line:\n%s", code, stderr)
			}
		})
	}
}

// TestVerifyExitStatusDocumented checks that verify -h, notary help and the README give
// the same exit statuses.
func TestVerifyExitStatusDocumented(t *testing.T) {
	t.Parallel()
	help, _ := wantCLI(t, exitOK, "verify", "-h")
	usage, _ := wantCLI(t, exitOK, "help")
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for code, words := range map[int]string{
		exitOK: "complete, and its block checked", exitInvalid: "invalid or forged", exitUsage: "usage or I/O error",
		exitPending: "pending: it rests on the signature of a log key you trust", exitUnchecked: "its block not checked against any chain source",
		exitPendingOwnKey: "signed only by the key it names",
	} {
		for name, text := range map[string]string{"verify -h": help, "notary help": usage, "README.md": string(readme)} {
			if !strings.Contains(strings.Join(strings.Fields(text), " "), words) {
				t.Errorf("%s does not say what exit %d means (%q)", name, code, words)
			}
		}
	}
}
