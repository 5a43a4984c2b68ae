package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// TestE2EManyDigests submits many digests at once, some twice, funds the anchoring key only
// once every one is in a checkpoint, and checks that a single Bitcoin transaction anchors
// them all with complete proofs that verify offline and against the node, on each store.
func TestE2EManyDigests(t *testing.T) {
	t.Parallel()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			testManyDigests(t, st.db(t))
		})
	}
}

func testManyDigests(t *testing.T, db string) {
	const (
		n       = 500
		dups    = 50
		workers = 32
	)
	c := startChain(t)
	s := startStack(t, c, stackOptions{db: db})

	digests := make([]notary.Digest, n)
	for i := range digests {
		digests[i] = randomDigest(t)
	}
	// Every digest once, and the first dups of them a second time, all in one burst.
	jobs := make(chan int)
	receipts := make([]api.TimestampView, n+dups)
	errs := make([]error, n+dups)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				receipts[j], errs[j] = submit(s.url, digests[j%n])
			}
		})
	}
	for j := range n + dups {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	for j, err := range errs {
		if err != nil {
			t.Fatalf("submission %d: %v", j, err)
		}
	}

	byIndex := map[int64]notary.Digest{}
	for j, r := range receipts[:n] {
		if prev, ok := byIndex[r.Index]; ok {
			t.Fatalf("digests %s and %s both got index %d", prev, digests[j], r.Index)
		}
		byIndex[r.Index] = digests[j]
		if r.Index < 0 || r.Index >= n {
			t.Errorf("digest %s got index %d, outside [0, %d)", digests[j], r.Index, n)
		}
	}
	for j := n; j < n+dups; j++ {
		first, again := receipts[j-n], receipts[j]
		if again.Index != first.Index || again.ReceivedMS != first.ReceivedMS || again.LeafHash != first.LeafHash {
			t.Errorf("digest %s submitted twice: entry %d at %d ms, then %d at %d ms; want the same entry",
				digests[j-n], first.Index, first.ReceivedMS, again.Index, again.ReceivedMS)
		}
	}

	// Fund the key only when every entry is in a checkpoint: the first anchor then covers all.
	waitCheckpoint(t, s.url, n)
	if size, err := checkpointSize(s.url); err != nil || size != n {
		t.Fatalf("checkpoint size %d (%v) after %d distinct digests; duplicates must not be logged", size, err, n)
	}
	c.mine(t, matureBlocks)
	final := mineUntilConfirmed(t, c, s.url, digests)

	dir := t.TempDir()
	var txid string
	for i, d := range digests {
		ts := final[d]
		p := ts.Proof
		if p == nil || !p.Complete() {
			t.Fatalf("digest %s is confirmed without a complete proof: %+v", d, ts)
		}
		v, err := notary.Verify(p, p.OwnKey())
		if err != nil {
			t.Fatalf("proof of %s: %v", d, err)
		}
		if v.Digest != d || v.Index != receipts[i].Index || !v.Complete || v.Network != "regtest" {
			t.Fatalf("proof of %s verifies as digest %s, index %d (receipt %d), complete %v, network %q",
				d, v.Digest, v.Index, receipts[i].Index, v.Complete, v.Network)
		}
		got := notary.ReverseHex(v.TxID)
		if ts.Anchor == nil || ts.Anchor.TxID != got {
			t.Fatalf("proof of %s is in transaction %s, the lookup names anchor %+v", d, got, ts.Anchor)
		}
		if txid == "" {
			txid = got
		} else if got != txid {
			t.Fatalf("proof of %s is in transaction %s, the others in %s: one anchor covers all", d, got, txid)
		}
		if v.LogSize != n {
			t.Errorf("proof of %s is through a checkpoint of size %d, want %d", d, v.LogSize, n)
		}

		// And as a user checks it against their own node.
		path := writeProofFile(t, dir, fmt.Sprintf("%03d.proof.json", i), p)
		stdout, _ := wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), path)
		if !strings.Contains(stdout, "has this block at height") || !strings.Contains(stdout, "in its best chain") {
			t.Fatalf("verify --node: no line saying the node has the block:\n%s", stdout)
		}
		if strings.Contains(stdout, c.node.RPCPass()) {
			t.Fatalf("verify --node printed the node's password:\n%s", stdout)
		}
	}
	if pool := c.mempool(t); len(pool) != 0 {
		t.Errorf("mempool holds %v after every digest is confirmed; want it empty", pool)
	}
}

// TestE2ECLI stamps a file with the command line, follows it from pending to complete
// with upgrade, verifies it; then alters the complete proof in every part and checks it
// against chains it is not in.
func TestE2ECLI(t *testing.T) {
	t.Parallel()
	c := startChain(t)
	s := startStack(t, c, stackOptions{depth: 2})

	// Other users' entries first, so that the inclusion path is not empty.
	for range 7 {
		mustSubmit(t, s.url, randomDigest(t))
	}
	dir := t.TempDir()
	doc := filepath.Join(dir, "contract.txt")
	if err := os.WriteFile(doc, []byte("the contract, signed on "+time.Now().String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	proofPath := doc + ".proof.json"
	d, err := hashFile(doc)
	if err != nil {
		t.Fatal(err)
	}

	stdout, _ := wantCLI(t, exitOK, "stamp", "--server", s.url, doc)
	for _, want := range []string{"stamped " + doc, "sha256   " + d.String(), "saved " + proofPath, "notary upgrade " + proofPath} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stamp: output lacks %q:\n%s", want, stdout)
		}
	}
	pending := readProofFile(t, proofPath)
	if p := pending; p.Complete() || p.Digest != d || p.Service != s.url {
		t.Fatalf("stamp saved a proof complete=%v for %s from %q; want a pending proof of %s from %s", p.Complete(), p.Digest, p.Service, d, s.url)
	}

	t.Run("pending", func(t *testing.T) {
		// Without a key to compare with, it rests on the key it names: exit 5, and said.
		stdout, stderr := wantCLI(t, exitPendingOwnKey, "verify", proofPath, doc)
		if !strings.Contains(noteLine(stderr), "pending") || !hasLine(stderr, "hint: ") || !strings.Contains(stderr, "notary upgrade "+proofPath) {
			t.Errorf("verify of a pending proof: want a note saying pending and a hint to upgrade:\n%s", stderr)
		}
		if !hasLine(stdout, "ok   the document's SHA-256 is "+d.String()) || !strings.Contains(stdout, "checkpoint signed by the key the proof names") ||
			!hasLine(stdout, "--   NOT checked: that "+s.logKey(t)+" is the log's key") {
			t.Errorf("verify of a pending proof: the offline checks it passed, and the key it trusted, are not reported:\n%s", stdout)
		}
		// With the key the notary publishes: exit 3.
		stdout, _ = wantCLI(t, exitPending, "verify", "--key", s.logKey(t), proofPath, doc)
		if !strings.Contains(stdout, "checkpoint signed by a key you trust ("+s.logKey(t)+")") {
			t.Errorf("verify --key of a pending proof:\n%s", stdout)
		}
		// The same entry, signed by a made-up key bearing the log's name: it hangs together,
		// and is refused as soon as the notary's key is given.
		forged := forgePending(t, readProofFile(t, proofPath))
		forgedPath := writeProofFile(t, t.TempDir(), "forged.proof.json", forged)
		wantCLI(t, exitPendingOwnKey, "verify", forgedPath, doc)
		_, stderr = wantCLI(t, exitInvalid, "verify", "--key", s.logKey(t), forgedPath, doc)
		if !strings.Contains(errLine(stderr), "key check failed") || !strings.Contains(errLine(stderr), forged.Log.Key+", not by a key you trust") {
			t.Errorf("verify --key of a forged pending proof:\n%s", stderr)
		}
		stdout, _ = wantCLI(t, exitPending, "info", proofPath)
		if !strings.Contains(stdout, "pending") {
			t.Errorf("info of a pending proof does not say pending:\n%s", stdout)
		}
		stdout, stderr = wantCLI(t, exitPending, "upgrade", proofPath)
		if !strings.Contains(stdout, "not complete yet: status pending") || !hasLine(stderr, "hint: ") {
			t.Errorf("upgrade before any anchor:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
		}
	})

	// Fund the key: the first anchor commits a checkpoint that holds the document.
	c.mine(t, matureBlocks)
	ts := waitBroadcast(t, c, s.url, d)
	anchorTx := ts.Anchor.TxID
	stdout, _ = wantCLI(t, exitPending, "upgrade", proofPath)
	if !strings.Contains(stdout, "status anchored, transaction "+anchorTx+" with 0 confirmation(s)") {
		t.Errorf("upgrade with the anchor in the mempool:\n%s", stdout)
	}
	c.mine(t, 1)
	waitStatus(t, s.url, d, "anchored with 1 confirmation", func(ts api.TimestampView) bool {
		return ts.Anchor != nil && ts.Anchor.Confirmations == 1
	})
	stdout, _ = wantCLI(t, exitPending, "upgrade", proofPath)
	if !strings.Contains(stdout, "transaction "+anchorTx+" with 1 confirmation(s)") {
		t.Errorf("upgrade with 1 of 2 confirmations:\n%s", stdout)
	}
	if readProofFile(t, proofPath).Complete() {
		t.Fatal("upgrade that exited 3 rewrote the proof as complete")
	}
	c.mine(t, 1)
	ts = waitStatus(t, s.url, d, "confirmed", func(ts api.TimestampView) bool { return ts.Status == service.StatusConfirmed })
	if ts.Anchor.TxID != anchorTx {
		t.Fatalf("confirmed in %s, anchored in %s", ts.Anchor.TxID, anchorTx)
	}

	stdout, _ = wantCLI(t, exitOK, "upgrade", proofPath)
	if !strings.Contains(stdout, "upgraded "+proofPath+": complete, block ") {
		t.Errorf("upgrade: %s", stdout)
	}
	complete := readProofFile(t, proofPath)
	v, err := notary.Verify(complete, complete.OwnKey())
	if err != nil || !v.Complete {
		t.Fatalf("upgraded proof: %v (complete %v)", err, v != nil && v.Complete)
	}
	if notary.ReverseHex(v.TxID) != anchorTx {
		t.Errorf("upgraded proof is in transaction %s, the service anchored %s", notary.ReverseHex(v.TxID), anchorTx)
	}
	stdout, _ = wantCLI(t, exitOK, "upgrade", proofPath)
	if !strings.Contains(stdout, "already complete") {
		t.Errorf("upgrade of a complete proof: %s", stdout)
	}

	t.Run("stamp again", func(t *testing.T) {
		// The same bytes elsewhere: stamp finds the entry and saves its complete proof.
		again := filepath.Join(t.TempDir(), "copy.txt")
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, again, string(data))
		stdout, _ := wantCLI(t, exitOK, "stamp", "--server", s.url, again)
		if !strings.Contains(stdout, "status   confirmed") || strings.Contains(stdout, "notary upgrade") {
			t.Errorf("stamp of a confirmed document:\n%s", stdout)
		}
		if p := readProofFile(t, again+".proof.json"); !p.Complete() || p.Entry.Index != complete.Entry.Index {
			t.Errorf("stamp of a confirmed document saved complete=%v, entry %d; want the complete proof of entry %d", p.Complete(), p.Entry.Index, complete.Entry.Index)
		}
		wantCLI(t, exitUnchecked, "verify", again+".proof.json", again)
	})

	t.Run("verify", func(t *testing.T) {
		stdout, stderr := wantCLI(t, exitUnchecked, "verify", proofPath, doc)
		if !strings.Contains(noteLine(stderr), "not checked against any chain source") || !hasLine(stderr, "hint: ") {
			t.Errorf("verify without a chain source: want a note saying the block was not checked:\n%s", stderr)
		}
		blockLine := fmt.Sprintf("The document existed no later than %s (time of block %d).", v.BlockTime.Format(time.RFC3339), v.Height)
		for _, want := range []string{
			"ok   the document's SHA-256 is " + d.String(),
			"ok   transaction " + anchorTx + " commits that root in an OP_RETURN output",
			fmt.Sprintf("ok   the transaction is in block %s (height %d, network regtest)", notary.ReverseHex(v.BlockHash), v.Height),
			"--   NOT checked: that block",
			blockLine,
		} {
			if !hasLine(stdout, want) {
				t.Errorf("verify: no line %q in:\n%s", want, stdout)
			}
		}
		// The block time printed is the node's.
		var hdr struct {
			Time   int64 `json:"time"`
			Height int64 `json:"height"`
		}
		c.call(t, &hdr, "getblockheader", notary.ReverseHex(v.BlockHash), true)
		if hdr.Height != v.Height || !time.Unix(hdr.Time, 0).Equal(v.BlockTime) {
			t.Errorf("the node has block %s at height %d, time %d; the proof says height %d, time %v",
				notary.ReverseHex(v.BlockHash), hdr.Height, hdr.Time, v.Height, v.BlockTime)
		}

		// With the digest instead of the document, and against the node.
		stdout, _ = wantCLI(t, exitOK, "verify", "--digest", d.String(), "--node", c.rpcURL(), proofPath)
		if !strings.Contains(stdout, fmt.Sprintf("has this block at height %d in its best chain", v.Height)) {
			t.Errorf("verify --node:\n%s", stdout)
		}
	})

	t.Run("other document", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "contract.txt")
		if err := os.WriteFile(other, []byte("another contract\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr := wantCLI(t, exitInvalid, "verify", proofPath, other)
		if !strings.Contains(errLine(stderr), "the proof is for "+d.String()) || !hasLine(stderr, "hint: ") {
			t.Errorf("verify with another document:\n%s", stderr)
		}
		_, stderr = wantCLI(t, exitInvalid, "verify", "--digest", randomDigest(t).String(), proofPath)
		if !strings.Contains(errLine(stderr), "the proof is for "+d.String()) {
			t.Errorf("verify --digest with another digest:\n%s", stderr)
		}
	})

	t.Run("info", func(t *testing.T) {
		stdout, _ := wantCLI(t, exitOK, "info", proofPath)
		for _, want := range []string{
			"  digest (SHA-256)  " + d.String(),
			"  status            complete",
			"  network           regtest",
			"  transaction       " + anchorTx,
			fmt.Sprintf("  block             %s, height %d", notary.ReverseHex(v.BlockHash), v.Height),
		} {
			if !hasLine(stdout, want) {
				t.Errorf("info: no line %q in:\n%s", want, stdout)
			}
		}
	})

	t.Run("tampered", func(t *testing.T) { testTampered(t, complete) })
	t.Run("wrong chain", func(t *testing.T) { testWrongChain(t, c, proofPath, v) })
}

// forgePending returns p with its checkpoint signed again by a new key bearing the log's
// name: as anyone can make one.
func forgePending(t *testing.T, p *notary.Proof) *notary.Proof {
	t.Helper()
	cp, err := notary.OpenCheckpoint([]byte(p.Log.Checkpoint), p.Log.Key)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, cp.Origin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := notary.SignCheckpoint(cp.Size, cp.Root, signer)
	if err != nil {
		t.Fatal(err)
	}
	q := *p
	q.Log.Key, q.Log.Checkpoint = vkey, string(forged.Note)
	return &q
}

// testTampered alters a complete proof in each of its parts and checks that verify rejects
// it, naming the step that failed.
func testTampered(t *testing.T, complete *notary.Proof) {
	good, err := notary.MarshalProof(complete)
	if err != nil {
		t.Fatal(err)
	}
	if len(complete.Log.Inclusion) == 0 {
		t.Fatal("the proof's inclusion path is empty: nothing to tamper with")
	}
	cp, err := notary.OpenCheckpoint([]byte(complete.Log.Checkpoint), complete.Log.Key)
	if err != nil {
		t.Fatal(err)
	}
	rootAt := bytes.Index(complete.Bitcoin.Tx, cp.Root[:])
	if rootAt < 0 {
		t.Fatal("the transaction does not hold the checkpoint's root")
	}
	txHex := fmt.Sprintf("%x", []byte(complete.Bitcoin.Tx))
	headerHex := fmt.Sprintf("%x", []byte(complete.Bitcoin.Header))

	// flip replaces old (which must occur in the proof exactly once) by old with its
	// i-th hex digit changed.
	flip := func(t *testing.T, old string, i int) []byte {
		t.Helper()
		if n := bytes.Count(good, []byte(`"`+old+`"`)); n != 1 {
			t.Fatalf("%q occurs %d times in the proof, want once", old, n)
		}
		b := []byte(old)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		return bytes.Replace(good, []byte(`"`+old+`"`), []byte(`"`+string(b)+`"`), 1)
	}
	otherDigest := fmt.Sprintf("%x", bytes.Repeat([]byte{0xab}, 32))

	tests := []struct {
		name   string
		data   func(t *testing.T) []byte
		wantIn string // in the error line
	}{
		{"inclusion path", func(t *testing.T) []byte { return flip(t, complete.Log.Inclusion[0].String(), 5) }, "inclusion check failed"},
		{"last inclusion hash", func(t *testing.T) []byte {
			return flip(t, complete.Log.Inclusion[len(complete.Log.Inclusion)-1].String(), 63)
		}, "inclusion check failed"},
		{"root in the transaction", func(t *testing.T) []byte { return flip(t, txHex, 2*rootAt+1) }, "transaction check failed"},
		{"transaction version", func(t *testing.T) []byte { return flip(t, txHex, 1) }, "block check failed"},
		{"header merkle root", func(t *testing.T) []byte { return flip(t, headerHex, 2*40) }, "block check failed"},
		{"digest", func(t *testing.T) []byte {
			return bytes.Replace(good, []byte(`"`+complete.Digest.String()+`"`), []byte(`"`+otherDigest+`"`), 1)
		}, "inclusion check failed"},
		{"checkpoint", func(t *testing.T) []byte {
			p := *complete
			p.Log.Checkpoint = strings.Replace(p.Log.Checkpoint, "\n", "\nx", 1)
			b, _ := notary.MarshalProof(&p)
			return b
		}, "checkpoint check failed"},
		{"truncated", func(t *testing.T) []byte { return good[:len(good)/2] }, "format check failed"},
		{"empty", func(t *testing.T) []byte { return nil }, "format check failed"},
		{"not JSON", func(t *testing.T) []byte { return []byte("%PDF-1.7\nthis is the document, not its proof\n") }, "format check failed"},
		{"trailing data", func(t *testing.T) []byte { return append(bytes.Clone(good), good...) }, "format check failed"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".proof.json")
			if err := os.WriteFile(path, tt.data(t), 0o644); err != nil {
				t.Fatal(err)
			}
			_, stderr := wantCLI(t, exitInvalid, "verify", path)
			if line := errLine(stderr); !strings.Contains(line, tt.wantIn) {
				t.Errorf("verify: error line %q does not name the failing step (%q):\n%s", line, tt.wantIn, stderr)
			}
			if !hasLine(stderr, "hint: ") {
				t.Errorf("verify: no hint line:\n%s", stderr)
			}
			if _, stderr := wantCLI(t, exitInvalid, "info", path); errLine(stderr) == "" {
				t.Errorf("info: no error line:\n%s", stderr)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		missing := filepath.Join(dir, "missing.proof.json")
		_, stderr := wantCLI(t, exitUsage, "verify", missing)
		if !strings.Contains(errLine(stderr), "missing.proof.json") {
			t.Errorf("verify of a missing file:\n%s", stderr)
		}
	})
	t.Run("missing document", func(t *testing.T) {
		path := filepath.Join(dir, "good.proof.json")
		if err := os.WriteFile(path, good, 0o644); err != nil {
			t.Fatal(err)
		}
		wantCLI(t, exitUnchecked, "verify", path)
		wantCLI(t, exitUsage, "verify", path, filepath.Join(dir, "no-such-document"))
	})
}

// testWrongChain checks a good proof against sources that have another block at its height.
func testWrongChain(t *testing.T, c *chain, proofPath string, v *notary.Verified) {
	blockHex := notary.ReverseHex(v.BlockHash)
	var other string
	c.call(t, &other, "getblockhash", v.Height-1)

	t.Run("trusted block", func(t *testing.T) {
		stdout, _ := wantCLI(t, exitOK, "verify", "--block", strings.ToUpper(blockHex), proofPath)
		if !strings.Contains(stdout, "the block is the one you said you trust") {
			t.Errorf("verify --block with the right hash:\n%s", stdout)
		}
		_, stderr := wantCLI(t, exitInvalid, "verify", "--block", other, proofPath)
		want := fmt.Sprintf("the block you trust has block %s at height %d, not the proof's %s", other, v.Height, blockHex)
		if !strings.Contains(errLine(stderr), want) || !hasLine(stderr, "hint: ") {
			t.Errorf("verify --block with another hash: want %q and a hint in:\n%s", want, stderr)
		}
	})

	t.Run("malformed trusted block", func(t *testing.T) {
		// A --block that is not a block hash is a usage error, not a proof that fails.
		for _, bad := range []string{"not-a-hash", blockHex[:63], blockHex + "00"} {
			_, stderr := wantCLI(t, exitUsage, "verify", "--block", bad, proofPath)
			if !strings.Contains(errLine(stderr), "--block") {
				t.Errorf("verify --block %q: the error does not name the flag:\n%s", bad, stderr)
			}
		}
	})

	t.Run("explorer", func(t *testing.T) {
		testExplorer(t, proofPath, v, blockHex, other)
	})

	t.Run("relabelled network", func(t *testing.T) {
		// The regtest proof relabelled: checked against the regtest node it came from, it is
		// refused for the node's chain before the node is believed about the block.
		dir := t.TempDir()
		p := readProofFile(t, proofPath)
		for _, network := range []string{"mainnet", "simnet", "testnet4"} {
			p.Bitcoin.Network = network
			path := writeProofFile(t, dir, network+".proof.json", p)
			_, stderr := wantCLI(t, exitInvalid, "verify", "--node", c.rpcURL(), path)
			want := fmt.Sprintf("the proof is anchored on %s, but your node at %s follows regtest (its block 0 is %s)",
				network, redactURL(c.rpcURL()), regtestGenesis)
			if !strings.Contains(errLine(stderr), want) || !hasLine(stderr, "hint: ") {
				t.Errorf("verify --node of the proof relabelled %s: want %q and a hint in:\n%s", network, want, stderr)
			}
		}
		// Offline, the mainnet label fails on its own: regtest's target is beyond mainnet's limit.
		_, stderr := wantCLI(t, exitInvalid, "verify", filepath.Join(dir, "mainnet.proof.json"))
		if !strings.Contains(errLine(stderr), "work check failed") || !strings.Contains(errLine(stderr), "easier than mainnet allows") {
			t.Errorf("verify of the proof relabelled mainnet, offline:\n%s", stderr)
		}
		// The genuine proof: the node follows its network, and says so.
		stdout, _ := wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), proofPath)
		if !hasLine(stdout, fmt.Sprintf("ok   your node at %s follows regtest, the proof's network (its block 0 is %s)", redactURL(c.rpcURL()), regtestGenesis)) {
			t.Errorf("verify --node does not say which chain the node follows:\n%s", stdout)
		}
	})

	t.Run("another node", func(t *testing.T) {
		// A second regtest chain of the same height: another block at the proof's height.
		o := startChain(t)
		o.mine(t, int(v.Height)+1)
		_, stderr := wantCLI(t, exitInvalid, "verify", "--node", o.rpcURL(), proofPath)
		if line := errLine(stderr); !strings.Contains(line, "your node has block") || !strings.Contains(line, "not the proof's "+blockHex) {
			t.Errorf("verify --node with another chain:\n%s", stderr)
		}
		// A node that is down is not an invalid proof but a usage problem.
		if err := o.node.Stop(); err != nil {
			t.Fatal(err)
		}
		_, stderr = wantCLI(t, exitUsage, "verify", "--node", o.rpcURL(), proofPath)
		if !strings.Contains(errLine(stderr), "asking the node") || strings.Contains(stderr, o.node.RPCPass()) {
			t.Errorf("verify --node with the node down:\n%s", stderr)
		}
	})
}

// testExplorer checks a good proof against an Esplora-style explorer that answers the
// proof's block, another block, or nonsense.
func testExplorer(t *testing.T, proofPath string, v *notary.Verified, blockHex, other string) {
	var (
		mu     sync.Mutex
		answer string
		asked  []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, r.URL.Path)
		switch r.URL.Path {
		case "/api/block-height/0":
			fmt.Fprint(w, regtestGenesis)
		case fmt.Sprintf("/api/block-height/%d", v.Height):
			fmt.Fprint(w, answer)
		default:
			http.Error(w, "Block not found", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	set := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		answer = s
	}
	base := srv.URL + "/api/"

	set(blockHex)
	stdout, _ := wantCLI(t, exitOK, "verify", "--explorer", base, proofPath)
	if !strings.Contains(stdout, fmt.Sprintf("the explorer %s has this block at height %d (you trust the explorer's operator", base, v.Height)) {
		t.Errorf("verify --explorer with the right block:\n%s", stdout)
	}

	set(other)
	_, stderr := wantCLI(t, exitInvalid, "verify", "--explorer", base, proofPath)
	want := fmt.Sprintf("the explorer has block %s at height %d, not the proof's %s", other, v.Height, blockHex)
	if !strings.Contains(errLine(stderr), want) || !hasLine(stderr, "hint: ") {
		t.Errorf("verify --explorer with another block: want %q and a hint in:\n%s", want, stderr)
	}

	set("<html>rate limited</html>")
	_, stderr = wantCLI(t, exitUsage, "verify", "--explorer", base, proofPath)
	if !strings.Contains(errLine(stderr), "asking the explorer") {
		t.Errorf("verify --explorer answering nonsense:\n%s", stderr)
	}
	_, stderr = wantCLI(t, exitUsage, "verify", "--explorer", srv.URL+"/elsewhere", proofPath)
	if !strings.Contains(errLine(stderr), "404") {
		t.Errorf("verify --explorer answering 404:\n%s", stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	// Block 0, then the proof's height; the last explorer answers 404 to the first.
	if len(asked) != 7 {
		t.Errorf("the explorer was asked %v; want its block 0 and the proof's block for each verify", asked)
	}
}

// regtestGenesis is the hash of regtest's block 0, as nodes print it.
const regtestGenesis = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
