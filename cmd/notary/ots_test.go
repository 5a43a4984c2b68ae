package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/calendar"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/ots"
	"github.com/notary-dev/notary/ots/reftest"
)

// refVerified is what the reference driver's verify command prints.
type refVerified struct {
	DigestOK          bool     `json:"digest_ok"`
	ReserializedEqual bool     `json:"reserialized_equal"`
	Digest            string   `json:"digest"`
	Pending           []string `json:"pending"`
	Bitcoin           []struct {
		Height     int64  `json:"height"`
		Time       int64  `json:"time"`
		MerkleRoot string `json:"merkle_root"`
	} `json:"bitcoin"`
}

// refVerify has the reference implementation check an .ots file: the document's digest,
// its own serialization of the file against the bytes, and every Bitcoin attestation against
// the block header the node gives for its height, which must be wantHeight unless that is -1.
func refVerify(t *testing.T, c *chain, otsPath, doc string, wantHeight int64) refVerified {
	t.Helper()
	lines := reftest.Run(t, nil, "verify", otsPath, doc, c.rpcURL())
	var v refVerified
	reftest.Decode(t, lines[0], &v)
	if !v.DigestOK || !v.ReserializedEqual || len(v.Bitcoin) == 0 {
		t.Fatalf("the reference verifies %s as %+v", filepath.Base(otsPath), v)
	}
	t.Logf("the reference verifies %s: %+v", filepath.Base(otsPath), v)
	for _, b := range v.Bitcoin {
		if wantHeight >= 0 && b.Height != wantHeight {
			t.Errorf("the reference checked block %d, want %d", b.Height, wantHeight)
		}
	}
	return v
}

// TestOTSInterop runs notary against the OpenTimestamps reference implementation on a real
// btcd regtest chain: the reference stamps with notary as its calendar and upgrades from it;
// notary's .ots files, stamped, upgraded and exported, pass the reference's checks against
// the node's headers; notary verifies the files the reference built.
func TestOTSInterop(t *testing.T) {
	reftest.Require(t)
	c := startChain(t)
	c.mine(t, matureBlocks)
	s := startStack(t, c, stackOptions{})
	dir := t.TempDir()

	// notary stamp writes DOC.ots beside the JSON proof: pending, naming this calendar.
	doc := filepath.Join(dir, "contract.txt")
	writeFile(t, doc, "the contract, signed\n")
	d := sha256.Sum256([]byte("the contract, signed\n"))
	stdout, _ := wantCLI(t, exitOK, "stamp", "--server", s.url, doc)
	otsPath := doc + ".ots"
	if !strings.Contains(stdout, "saved "+otsPath) {
		t.Fatalf("stamp did not say it saved %s:\n%s", otsPath, stdout)
	}
	f := readOTSFile(t, otsPath)
	if atts := f.Timestamp.AllAttestations(); len(atts) != 1 || atts[0].Attestation != (ots.Pending{URI: s.url}) {
		t.Fatalf("stamp wrote %v, want one pending attestation of %s", f.Timestamp, s.url)
	}
	stdout, stderr := wantCLI(t, exitPending, "verify", otsPath, doc)
	if !hasLine(stdout, "ok   the document's sha256 is "+hex.EncodeToString(d[:])) || !strings.Contains(noteLine(stderr), "pending") {
		t.Errorf("verify of a pending .ots:\n%s%s", stdout, stderr)
	}
	if stdout, _ := wantCLI(t, exitPending, "info", otsPath); !strings.Contains(stdout, "pending at calendar "+s.url) {
		t.Errorf("info of a pending .ots:\n%s", stdout)
	}
	stdout, _ = wantCLI(t, exitPending, "upgrade", otsPath)
	if !strings.Contains(stdout, "Pending confirmation in Bitcoin blockchain") {
		t.Errorf("upgrade before the anchor:\n%s", stdout)
	}

	// A second document stamped by notary, to be completed through its JSON proof.
	doc2 := filepath.Join(dir, "annex.txt")
	writeFile(t, doc2, "the annex\n")
	wantCLI(t, exitOK, "stamp", "--server", s.url, doc2)

	// The reference client stamps with notary as its calendar: it sends the SHA-256 of its
	// file digest and a nonce, which notary logs as a digest.
	refDoc := filepath.Join(dir, "reference.txt")
	writeFile(t, refDoc, "stamped by the reference client\n")
	refOTS := refDoc + ".ots"
	var stamped struct {
		Commitment string `json:"commitment"`
	}
	reftest.Decode(t, reftest.Run(t, nil, "stamp", s.url, refDoc, refOTS)[0], &stamped)
	refDigest, err := notary.ParseDigest(stamped.Commitment)
	if err != nil {
		t.Fatal(err)
	}
	var upgraded struct {
		Complete bool     `json:"complete"`
		Reasons  []string `json:"reasons"`
	}
	reftest.Decode(t, reftest.Run(t, nil, "upgrade", refOTS)[0], &upgraded)
	if upgraded.Complete || !slices.Equal(upgraded.Reasons, []string{"Pending confirmation in Bitcoin blockchain"}) {
		t.Fatalf("the reference's upgrade before the anchor: %+v", upgraded)
	}

	// A document stamped by the reference client, then by notary: notary merges its pending
	// timestamp into the existing .ots instead of replacing it.
	both := filepath.Join(dir, "both.txt")
	writeFile(t, both, "stamped twice\n")
	var stampedBoth struct {
		Commitment string `json:"commitment"`
	}
	reftest.Decode(t, reftest.Run(t, nil, "stamp", s.url, both, both+".ots")[0], &stampedBoth)
	bothTip, err := notary.ParseDigest(stampedBoth.Commitment)
	if err != nil {
		t.Fatal(err)
	}
	wantCLI(t, exitOK, "stamp", "--server", s.url, both)
	if n := len(readOTSFile(t, both+".ots").Timestamp.AllAttestations()); n != 2 {
		t.Fatalf("after both stamps, %s has %d attestations, want the reference's and notary's", both+".ots", n)
	}

	// Anchor everything.
	d2 := sha256.Sum256([]byte("the annex\n"))
	dBoth := sha256.Sum256([]byte("stamped twice\n"))
	done := mineUntilConfirmed(t, c, s.url, []notary.Digest{d, d2, refDigest, bothTip, dBoth})
	height := done[d].Proof.Bitcoin.Height

	t.Run("reference upgrades from notary", func(t *testing.T) {
		reftest.Decode(t, reftest.Run(t, nil, "upgrade", refOTS)[0], &upgraded)
		if !upgraded.Complete {
			t.Fatalf("the reference's upgrade after the anchor: %+v", upgraded)
		}
		refVerify(t, c, refOTS, refDoc, done[refDigest].Proof.Bitcoin.Height)
		// notary verifies the .ots the reference built and upgraded.
		stdout, _ := wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), refOTS, refDoc)
		if !strings.Contains(stdout, "The document existed no later than") {
			t.Errorf("verify:\n%s", stdout)
		}
	})
	t.Run("notary upgrade of its .ots", func(t *testing.T) {
		stdout, _ := wantCLI(t, exitOK, "upgrade", otsPath)
		if !strings.Contains(stdout, "complete, Bitcoin block") {
			t.Errorf("upgrade:\n%s", stdout)
		}
		v := refVerify(t, c, otsPath, doc, height)
		if !slices.Equal(v.Pending, []string{s.url}) {
			t.Errorf("the upgraded file keeps the pending attestations %q, want %q", v.Pending, s.url)
		}
		wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), otsPath, doc)
		stdout, _ = wantCLI(t, exitOK, "info", otsPath)
		if !strings.Contains(stdout, "status            complete") {
			t.Errorf("info:\n%s", stdout)
		}
		// The wrong document, and a node that does not have the block.
		other := filepath.Join(dir, "other.txt")
		writeFile(t, other, "not the contract\n")
		wantCLI(t, exitInvalid, "verify", "--node", c.rpcURL(), otsPath, other)
		wantCLI(t, exitUnchecked, "verify", otsPath, doc)
	})
	t.Run("JSON upgrade completes the .ots beside it", func(t *testing.T) {
		stdout, _ := wantCLI(t, exitOK, "upgrade", doc2+".proof.json")
		if !strings.Contains(stdout, "upgraded "+doc2+".ots too") {
			t.Errorf("upgrade:\n%s", stdout)
		}
		refVerify(t, c, doc2+".ots", doc2, done[d2].Proof.Bitcoin.Height)
	})
	t.Run("merged .ots", func(t *testing.T) {
		wantCLI(t, exitOK, "upgrade", both+".ots")
		if v := refVerify(t, c, both+".ots", both, -1); len(v.Bitcoin) != 2 {
			t.Errorf("the reference checked %d Bitcoin attestations, want 2", len(v.Bitcoin))
		}
		wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), both+".ots", both)
	})
	t.Run("export", func(t *testing.T) {
		base := s.url + "/v1/timestamps/" + hex.EncodeToString(d[:])
		byURL := get(t, base+".ots", "")
		byAccept := get(t, base, ots.MediaType)
		if !bytes.Equal(byURL, byAccept) {
			t.Fatal("the .ots URL and the Accept header give different files")
		}
		want, err := calendar.ProofFile(done[d].Proof, "")
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := want.MarshalBinary(); !bytes.Equal(b, byURL) {
			t.Fatal("the export is not the .ots of the lookup's proof")
		}
		path := filepath.Join(dir, "export.ots")
		if err := os.WriteFile(path, byURL, 0o644); err != nil {
			t.Fatal(err)
		}
		v := refVerify(t, c, path, doc, height)
		if len(v.Pending) != 0 {
			t.Errorf("a complete export has pending attestations %q", v.Pending)
		}
		wantCLI(t, exitOK, "verify", "--node", c.rpcURL(), path, doc)
	})
}

// get returns the body of a GET that must succeed.
func get(t *testing.T, url, accept string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s (%v)", url, resp.Status, b, err)
	}
	return b
}

func readOTSFile(t *testing.T, path string) *ots.File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ots.ParseFile(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

// fakeNode serves getblockhash and getblockheader for one header at one height, as
// bitcoind's JSON-RPC does.
func fakeNode(t *testing.T, h notary.Header, height int64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Method string            `json:"method"`
			Params []json.RawMessage `json:"params"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		var result any
		switch {
		case req.Method == "getblockhash" && string(req.Params[0]) == jsonInt(height):
			result = notary.ReverseHex(h.Hash())
		case req.Method == "getblockheader":
			result = hex.EncodeToString(h[:])
		default:
			json.NewEncoder(w).Encode(map[string]any{"result": nil, "error": map[string]any{"code": -8, "message": "Block height out of range"}})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"result": result, "error": nil})
	}))
	t.Cleanup(srv.Close)
	return "http://user:pass@" + strings.TrimPrefix(srv.URL, "http://")
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestVerifyOTSOffline checks verify on the golden .ots of the golden complete proof
// against a node that serves its header, or another one.
func TestVerifyOTSOffline(t *testing.T) {
	data, err := os.ReadFile("../../notary/testdata/proofs/valid-complete.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := notary.ParseProof(data)
	if err != nil {
		t.Fatal(err)
	}
	path := "../../calendar/testdata/notary-complete.ots"
	h := notary.Header(p.Bitcoin.Header)
	node := fakeNode(t, h, p.Bitcoin.Height)
	digest := p.Digest.String()

	stdout, _ := wantCLI(t, exitOK, "verify", "--node", node, "--digest", digest, path)
	if !strings.Contains(stdout, "The document existed no later than "+h.Time().Format(time.RFC3339)) {
		t.Errorf("verify:\n%s", stdout)
	}
	other := h
	other[40] ^= 1 // another Merkle root
	_, stderr := wantCLI(t, exitInvalid, "verify", "--node", fakeNode(t, other, p.Bitcoin.Height), "--digest", digest, path)
	if !strings.Contains(errLine(stderr), "Merkle root") {
		t.Errorf("verify against another header: %s", stderr)
	}
	_, stderr = wantCLI(t, exitUsage, "verify", "--node", fakeNode(t, h, p.Bitcoin.Height+1), "--digest", digest, path)
	if !strings.Contains(errLine(stderr), "asking the node") {
		t.Errorf("verify against a node without the block: %s", stderr)
	}
	wantCLI(t, exitInvalid, "verify", "--node", node, "--digest", strings.Repeat("00", 32), path)
	_, stderr = wantCLI(t, exitUsage, "verify", "--block", notary.ReverseHex(h.Hash()), "--digest", digest, path)
	if !strings.Contains(stderr, "hint: --block is not enough") {
		t.Errorf("verify with --block: %s", stderr)
	}

	// A byte of the transaction changed: the operations lead elsewhere.
	tampered := readOTSFile(t, path)
	b, _ := tampered.MarshalBinary()
	i := bytes.Index(b, p.Bitcoin.Tx[:8])
	b[i+4] ^= 1
	bad := filepath.Join(t.TempDir(), "tampered.ots")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	wantCLI(t, exitInvalid, "verify", "--node", node, "--digest", digest, bad)

	// Not an .ots nor a proof; a truncated .ots.
	b, _ = tampered.MarshalBinary()
	if err := os.WriteFile(bad, b[:len(b)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr = wantCLI(t, exitInvalid, "info", bad)
	if !strings.Contains(stderr, "ots: at byte") {
		t.Errorf("info of a truncated file: %s", stderr)
	}
	stdout, _ = wantCLI(t, exitOK, "info", path)
	if !strings.Contains(stdout, "Bitcoin block 144") || !strings.Contains(stdout, "status            complete") {
		t.Errorf("info:\n%s", stdout)
	}

	// upgrade: nothing to do for a complete file; a calendar that does not answer.
	if stdout, _ := wantCLI(t, exitOK, "upgrade", path); !strings.Contains(stdout, "already complete") {
		t.Errorf("upgrade of a complete file:\n%s", stdout)
	}
	pending, err := ots.NewFile(merkle.Hash(p.Digest), nil, ots.Pending{URI: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = pending.MarshalBinary()
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr = wantCLI(t, exitUsage, "upgrade", bad)
	if !strings.Contains(errLine(stderr), "asking the calendar http://127.0.0.1:1") {
		t.Errorf("upgrade from a calendar that does not answer: %s", stderr)
	}
}
