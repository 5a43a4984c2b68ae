package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/pgtest"
	"github.com/notary-dev/notary/notary"
)

// litewitness is a litewitness process (filippo.io/torchwood, the version go.mod pins as a
// tool) on a free loopback port, its Ed25519 key held by an ssh-agent of its own.
type litewitness struct {
	url  string
	vkey string // its cosignature/v1 verifier key, as it reports it
	logs *syncBuffer
	stop func()
}

// toolBinary returns the path of a tool go.mod pins, which the go command builds and caches.
func toolBinary(t *testing.T, pkg string) string {
	t.Helper()
	out, err := exec.Command("go", "tool", "-n", pkg).Output()
	if err != nil {
		t.Fatalf("go tool -n %s: %v", pkg, err)
	}
	return strings.TrimSpace(string(out))
}

// run runs a command and fails the test if it fails.
func runCmd(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startLitewitness starts a witness named name that knows the log origin by its key logVkey.
func startLitewitness(t *testing.T, name, origin, logVkey string) *litewitness {
	t.Helper()
	lw, ctl := toolBinary(t, "filippo.io/torchwood/cmd/litewitness"), toolBinary(t, "filippo.io/torchwood/cmd/witnessctl")
	// A Unix socket's path is short: the agent's lives under a short directory.
	sockDir, err := os.MkdirTemp("", "lw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("ssh-agent (Debian's openssh-client; scripts/test-deps.sh installs it): %v", err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	waitFor(t, waitLimit, "ssh-agent's socket", func() (bool, error) {
		_, err := os.Stat(sock)
		return err == nil, nil
	})
	dir := t.TempDir()
	key := filepath.Join(dir, "witness")
	runCmd(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key)
	runCmd(t, []string{"SSH_AUTH_SOCK=" + sock}, "ssh-add", "-q", key)
	fp := strings.Fields(runCmd(t, nil, "ssh-keygen", "-l", "-E", "sha256", "-f", key+".pub"))
	if len(fp) < 2 || !strings.HasPrefix(fp[1], "SHA256:") {
		t.Fatalf("ssh-keygen -l printed %q", fp)
	}
	db := filepath.Join(dir, "witness.db")
	runCmd(t, nil, ctl, "add-log", "-db", db, "-origin", origin)
	runCmd(t, nil, ctl, "add-key", "-db", db, "-origin", origin, "-key", logVkey)

	addr := freeLoopbackAddr(t)
	w := &litewitness{url: "http://" + addr, logs: &syncBuffer{}}
	cmd := exec.Command(lw, "-db", db, "-name", name, "-key", fp[1], "-ssh-agent", sock, "-listen", addr)
	cmd.Stdout, cmd.Stderr = w.logs, w.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	w.stop = func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(waitLimit):
			cmd.Process.Kill()
			<-exited
		}
	}
	t.Cleanup(func() {
		w.stop()
		if t.Failed() {
			t.Logf("litewitness log:\n%s", w.logs.String())
		}
	})
	vkeyRE := regexp.MustCompile(`msg="verifier key" vkey=(\S+)`)
	waitFor(t, waitLimit, "litewitness to listen", func() (bool, error) {
		select {
		case <-exited:
			return false, fmt.Errorf("litewitness exited:\n%s", w.logs.String())
		default:
		}
		m := vkeyRE.FindStringSubmatch(w.logs.String())
		if m == nil {
			return false, nil
		}
		w.vkey = m[1]
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil, nil
	})
	return w
}

// getStatus gets GET /v1/status.
func getStatus(t *testing.T, base string) api.StatusView {
	t.Helper()
	var v api.StatusView
	mustGetJSON(t, base+"/v1/status", &v)
	return v
}

func mustGetJSON(t *testing.T, url string, v any) {
	t.Helper()
	if _, err := getJSON(url, v); err != nil {
		t.Fatal(err)
	}
}

// prepareLogKey creates the log key of the chain's data directory, as serve would, so that
// a witness can be told the log's origin and key before the log starts.
func prepareLogKey(t *testing.T, c *chain) (origin, vkey string) {
	t.Helper()
	signer, vkey, err := loadOrCreateLogKey(filepath.Join(c.data, "log.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	return signer.Name(), vkey
}

// otherWitnessKey is a cosignature/v1 key of a witness that never saw the log.
const otherWitnessKey = "witness.test/other+236c8fbe+BKYmzhkoyBWmGmW5WAKcNGQdTtSmXH6PbeyEuejQ02Ih"

// TestE2EWitnessLitewitness runs the notary with a real, independent witness (litewitness):
// the published checkpoint gets its cosignature, a pending proof carries the cosigned
// checkpoint and verifies with the witness's key, and fails with another key or an unmet
// quorum. Restarted, the notary has forgotten the size the witness knows: the witness's 409
// tells it, and cosigning goes on.
func TestE2EWitnessLitewitness(t *testing.T) {
	t.Parallel()
	c := startChain(t)
	origin, logVkey := prepareLogKey(t, c)
	w := startLitewitness(t, "witness.test/lw", origin, logVkey)
	if _, err := notary.NewCosignatureVerifier(otherWitnessKey); err != nil {
		t.Fatal(err)
	}
	opts := stackOptions{witness: witnessFlags{specs: []string{"lw " + w.url + " " + w.vkey}}}
	r := startStack(t, c, opts)

	d := randomDigest(t)
	mustSubmit(t, r.url, d)
	var ts api.TimestampView
	waitFor(t, waitLimit, "a cosigned checkpoint covering the entry in its proof", func() (bool, error) {
		var err error
		ts, err = lookup(r.url, d)
		return err == nil && ts.Proof != nil && strings.Count(ts.Proof.Log.Checkpoint, "\n— ") == 2, err
	})
	cosigs, err := notary.CheckCosignatures([]byte(ts.Proof.Log.Checkpoint), []*notary.CosignatureVerifier{mustCosigVerifier(t, w.vkey)}, 1)
	if err != nil || len(cosigs) != 1 || cosigs[0].Witness != "witness.test/lw" {
		t.Fatalf("CheckCosignatures of the proof's checkpoint = %+v, %v", cosigs, err)
	}
	if _, err := notary.Verify(ts.Proof, r.logKeys(t)); err != nil {
		t.Fatalf("Verify of the cosigned pending proof: %v", err)
	}
	// The published checkpoint is cosigned too, and the status says by whom.
	for _, path := range []string{"/v1/checkpoint", "/log/checkpoint"} {
		published := getText(t, r.url+path)
		if _, err := notary.CheckCosignatures([]byte(published), []*notary.CosignatureVerifier{mustCosigVerifier(t, w.vkey)}, 1); err != nil {
			t.Errorf("GET %s is not cosigned: %v\n%s", path, err, published)
		}
	}
	st := getStatus(t, r.url)
	if st.Witnesses == nil || st.Witnesses.Quorum != 1 || len(st.Witnesses.Witnesses) != 1 ||
		st.Witnesses.Witnesses[0].CosignedSize < ts.Index+1 || st.Witnesses.CosignedSize < ts.Index+1 {
		t.Errorf("/v1/status witnesses = %+v, want lw cosigned at size ≥ %d", st.Witnesses, ts.Index+1)
	}
	var keys api.KeysView
	mustGetJSON(t, r.url+"/v1/keys", &keys)
	if len(keys.WitnessKeys) != 1 || keys.WitnessKeys[0] != w.vkey || keys.WitnessQuorum != 1 {
		t.Errorf("/v1/keys witnesses = %v quorum %d, want [%s] 1", keys.WitnessKeys, keys.WitnessQuorum, w.vkey)
	}
	if m := getText(t, r.url+"/metrics"); !regexp.MustCompile(`(?m)^notary_witness_cosigned_size\{witness="lw"\} [1-9]`).MatchString(m) {
		t.Errorf("/metrics lacks the witness's cosigned size:\n%s", m)
	}

	// The command line verifier, as a stranger runs it.
	proof := writeProofFile(t, t.TempDir(), "cosigned.proof.json", ts.Proof)
	out, _ := wantCLI(t, exitPending, "verify", "--key", logVkey, "--witness-key", w.vkey, proof)
	if !strings.Contains(out, "cosigned by the witness witness.test/lw") {
		t.Errorf("verify with the witness's key:\n%s", out)
	}
	_, stderr := wantCLI(t, exitInvalid, "verify", "--key", logVkey, "--witness-key", otherWitnessKey, proof)
	if !strings.Contains(stderr, otherWitnessKey) || !strings.Contains(stderr, "0 valid cosignature") {
		t.Errorf("verify with another witness key: the error does not name the missing key:\n%s", stderr)
	}
	_, stderr = wantCLI(t, exitInvalid, "verify", "--key", logVkey, "--witness-key", w.vkey, "--witness-key", otherWitnessKey, "--witness-quorum", "2", proof)
	if !strings.Contains(stderr, "1 valid cosignature(s) by the witnesses you trust, 2 required") || !strings.Contains(stderr, otherWitnessKey) {
		t.Errorf("verify with an unmet quorum:\n%s", stderr)
	}
	wantCLI(t, exitPending, "verify", "--key", logVkey, "--witness-key", w.vkey, "--witness-key", otherWitnessKey, "--witness-quorum", "1", proof)

	// A new process starts from size 0 for the witness, which knows more: 409, then it retries.
	size := ts.LogSize
	r.stop(t)
	r = startStack(t, c, opts)
	d2 := randomDigest(t)
	mustSubmit(t, r.url, d2)
	waitFor(t, waitLimit, "the restarted log's checkpoint cosigned", func() (bool, error) {
		ts, err := lookup(r.url, d2)
		return err == nil && ts.Proof != nil && ts.LogSize > size && strings.Count(ts.Proof.Log.Checkpoint, "\n— ") == 2, err
	})
	if !strings.Contains(r.logs.String(), "witness knows another size of the log") {
		t.Errorf("the restarted notary did not learn the witness's size from a 409:\n%s", r.logs.String())
	}
}

// TestE2EWitnessDown runs the notary with a witness that does not answer: the log goes on,
// publishing its checkpoints as it signs them, and says which witness fails and why.
func TestE2EWitnessDown(t *testing.T) {
	t.Parallel()
	c := startChain(t)
	down := "http://" + freeLoopbackAddr(t)
	r := startStack(t, c, stackOptions{witness: witnessFlags{specs: []string{"down " + down + " " + otherWitnessKey}}})
	d := randomDigest(t)
	ts := mustSubmit(t, r.url, d)
	waitCheckpoint(t, r.url, ts.Index+1)
	if cp := getText(t, r.url+"/v1/checkpoint"); strings.Count(cp, "\n— ") != 1 {
		t.Errorf("the published checkpoint has cosignatures from a witness that is down:\n%s", cp)
	}
	var st api.StatusView
	waitFor(t, waitLimit, "the status to report the witness down", func() (bool, error) {
		st = getStatus(t, r.url)
		return st.Witnesses != nil && len(st.Witnesses.Witnesses) == 1 && st.Witnesses.Witnesses[0].Error != "", nil
	})
	if w := st.Witnesses; w.CosignedSize != -1 || w.Witnesses[0].CosignedSize != -1 || !strings.Contains(w.Witnesses[0].Error, "witness down") {
		t.Errorf("/v1/status witnesses = %+v, want none cosigned and the error naming the witness", w)
	}
	if m := getText(t, r.url+"/metrics"); !strings.Contains(m, `notary_witness_failing{witness="down"} 1`) {
		t.Errorf("/metrics does not say the witness fails")
	}
	if !strings.Contains(r.logs.String(), "publishing the checkpoint without a quorum of cosignatures") {
		t.Errorf("the log does not say it publishes without cosignatures:\n%s", r.logs.String())
	}
	// The status page says so too.
	p := startPage(t, r.url)
	p.open("status.html")
	p.wait("the witnesses tile to name the failing witness", `document.querySelector("[data-tile=witnesses] [data-witness=down]")`)
	if text := eval[string](p, `document.querySelector("[data-tile=witnesses] .value").innerText`); !strings.Contains(text, "none cosigned yet") || !strings.Contains(text, "1 required") {
		t.Errorf("the status page's witnesses tile says %q", text)
	}
	p.screenshot("witness-down-status")

	// A pending proof is still given, signed by the log alone; verify requiring the witness refuses it.
	got := mustLookup(t, r.url, d)
	if got.Proof == nil {
		t.Fatal("no proof")
	}
	proof := writeProofFile(t, t.TempDir(), "p.proof.json", got.Proof)
	wantCLI(t, exitPending, "verify", "--key", r.logKey(t), proof)
	wantCLI(t, exitInvalid, "verify", "--key", r.logKey(t), "--witness-key", otherWitnessKey, proof)
}

// TestE2EWitnessPostgres runs two processes on one PostgreSQL database with a litewitness:
// the writer alone talks to the witness, and both serve the cosigned checkpoint and pending
// proofs in it.
func TestE2EWitnessPostgres(t *testing.T) {
	t.Parallel()
	db := pgtest.Shared(t)
	c := startChain(t)
	origin, logVkey := prepareLogKey(t, c)
	w := startLitewitness(t, "witness.test/lw", origin, logVkey)
	rs := startReplicasWith(t, c, db, 2, []string{"--witness", "lw " + w.url + " " + w.vkey})
	d := randomDigest(t)
	mustSubmit(t, rs.urls[0], d)
	verifier := []*notary.CosignatureVerifier{mustCosigVerifier(t, w.vkey)}
	for i, url := range rs.urls {
		waitFor(t, waitLimit, fmt.Sprintf("process %d to give a proof in a cosigned checkpoint", i), func() (bool, error) {
			got, err := lookup(url, d)
			if err != nil || got.Proof == nil {
				return false, err
			}
			_, err = notary.VerifyWitnesses(got.Proof, verifier, 1)
			return err == nil, nil
		})
		cp := getText(t, url+"/v1/checkpoint")
		if _, err := notary.CheckCosignatures([]byte(cp), verifier, 1); err != nil {
			t.Errorf("process %d's /v1/checkpoint: %v\n%s", i, err, cp)
		}
		var st api.StatusView
		mustGetJSON(t, url+"/v1/status", &st)
		if writer := st.Writer != nil && st.Writer.ThisProcess; (st.Witnesses != nil) != writer {
			t.Errorf("process %d (writer: %v) reports witnesses %+v: only the writer talks to them", i, writer, st.Witnesses)
		}
	}
	// A static mirror exported from the database carries the cosigned checkpoint too, once the
	// log stops growing and the writer recorded it cosigned.
	dir := t.TempDir()
	waitFor(t, waitLimit, "tiles export to write a cosigned checkpoint", func() (bool, error) {
		if code, _, stderr := cli(t, "tiles", "export", "--db", db, "--data", c.data, "-q", dir); code != exitOK {
			return false, fmt.Errorf("tiles export: exit %d: %s", code, stderr)
		}
		cp, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
		if err != nil {
			return false, err
		}
		_, err = notary.CheckCosignatures(cp, verifier, 1)
		return err == nil, nil
	})
}

func mustCosigVerifier(t *testing.T, vkey string) *notary.CosignatureVerifier {
	t.Helper()
	v, err := notary.NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
