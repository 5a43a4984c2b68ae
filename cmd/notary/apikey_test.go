package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/store"
)

// newDataDir returns a data directory holding an empty notary database.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "notary.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	return dir
}

func TestAPIKeyCommand(t *testing.T) {
	dir := newDataDir(t)
	token, stderr := wantCLI(t, exitOK, "apikey", "create", "ci-pipeline", "--data", dir, "--webhook", "https://ci.example/hook")
	token = strings.TrimSpace(token)
	if !strings.HasPrefix(token, apiKeyPrefix) || len(token) != len(apiKeyPrefix)+43 || strings.Count(token, "\n") != 0 {
		t.Errorf("token %q", token)
	}
	if !strings.Contains(stderr, "shown only this once") {
		t.Errorf("stderr %q", stderr)
	}
	wantCLI(t, exitOK, "apikey", "create", "--data", dir, "ops")

	// Stored hashed: the token is nowhere in the database, its SHA-256 is.
	db, err := store.Open(filepath.Join(dir, "notary.db"))
	if err != nil {
		t.Fatal(err)
	}
	name, webhook, revoked, err := db.APIKeyByHash(context.Background(), sha256.Sum256([]byte(token)))
	db.Close()
	if err != nil || name != "ci-pipeline" || webhook != "https://ci.example/hook" || revoked {
		t.Errorf("stored key: %q %q %v %v", name, webhook, revoked, err)
	}
	for _, f := range []string{"notary.db", "notary.db-wal"} {
		if data, _ := readFileIfAny(filepath.Join(dir, f)); bytes.Contains(data, []byte(token)) {
			t.Errorf("%s holds the token in clear", f)
		}
	}

	out, _ := wantCLI(t, exitOK, "apikey", "list", "--data", dir)
	if !hasLine(out, "NAME") || !strings.Contains(out, "ci-pipeline") || !strings.Contains(out, "https://ci.example/hook") || !strings.Contains(out, "active") {
		t.Errorf("list:\n%s", out)
	}
	wantCLI(t, exitOK, "apikey", "revoke", "ops", "--data", dir)
	out, _ = wantCLI(t, exitOK, "apikey", "list", "--data", dir)
	if !strings.Contains(out, "revoked") {
		t.Errorf("list after revoke:\n%s", out)
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"name taken", []string{"create", "ci-pipeline", "--data", dir}, "exists"},
		{"revoked name taken", []string{"create", "ops", "--data", dir}, "exists"},
		{"bad name", []string{"create", "no spaces", "--data", dir}, "key name"},
		{"no name", []string{"create", "--data", dir}, "takes 1 name"},
		{"two names", []string{"create", "a", "b", "--data", dir}, "takes 1 name"},
		{"bad webhook", []string{"create", "x", "--webhook", "ftp://x", "--data", dir}, "--webhook"},
		{"unknown key", []string{"revoke", "nobody", "--data", dir}, "no API key"},
		{"no database", []string{"list", "--data", t.TempDir()}, "no notary database"},
		{"unknown subcommand", []string{"rotate", "x", "--data", dir}, "unknown apikey subcommand"},
		{"no subcommand", nil, "needs a subcommand"},
		{"webhook on list", []string{"list", "--webhook", "https://x.example", "--data", dir}, "--webhook"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr := wantCLI(t, exitUsage, append([]string{"apikey"}, tt.args...)...)
			if !strings.Contains(errLine(stderr), tt.want) {
				t.Errorf("stderr %q, want an error about %q", stderr, tt.want)
			}
		})
	}
	if stdout, _ := wantCLI(t, exitOK, "apikey", "help"); !strings.Contains(stdout, "notary apikey create") {
		t.Errorf("help: %q", stdout)
	}
	if _, stderr := wantCLI(t, exitUsage); !strings.Contains(stderr, "apikey") {
		t.Error("the usage does not list apikey")
	}
}

// TestE2EIntegration runs an integration's whole round against the real stack: an API key
// made with the command line while the service runs, a batch with a callback, a long poll,
// the Bitcoin anchor, the signed webhook, and the status, keys and proof endpoints.
func TestE2EIntegration(t *testing.T) {
	t.Parallel()
	c := startChain(t)
	c.mine(t, matureBlocks)
	s := startStack(t, c, stackOptions{})
	token, _ := wantCLI(t, exitOK, "apikey", "create", "integration", "--data", c.data)
	token = strings.TrimSpace(token)

	var keys api.KeysView
	getE2E(t, s.url+"/v1/keys", "", &keys)
	pub, err := base64.StdEncoding.DecodeString(*keys.WebhookKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("webhook key %q", *keys.WebhookKey)
	}
	hooks := make(chan []byte, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notary.VerifyWebhook(pub, r.Header.Get(notary.WebhookSignatureHeader), body, time.Now(), time.Minute); err != nil {
			t.Errorf("webhook: %v", err)
		}
		hooks <- body
	}))
	defer receiver.Close()

	digests := []notary.Digest{randomDigest(t), randomDigest(t), randomDigest(t)}
	var hexes []string
	for _, d := range digests {
		hexes = append(hexes, d.String())
	}
	body, _ := json.Marshal(map[string]any{"digests": hexes, "callback": receiver.URL})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/timestamps/batch", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var batch api.BatchView
	err = json.NewDecoder(resp.Body).Decode(&batch)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("batch: status %d, %v", resp.StatusCode, err)
	}
	items := make([]notary.BatchItem, len(batch.Receipts))
	for i, r := range batch.Receipts {
		d, _ := notary.ParseDigest(r.Digest)
		leaf, _ := merkle.ParseHash(r.LeafHash)
		items[i] = notary.BatchItem{Index: r.Index, ReceivedMS: r.ReceivedMS, Digest: d, LeafHash: leaf}
	}
	if _, err := notary.OpenBatchReceipt([]byte(batch.Batch.Note), keys.LogKey, items); err != nil {
		t.Errorf("batch receipt: %v", err)
	}

	// A long poll, held until the status moves on from pending (since=pending: whenever
	// the request gets there, before the anchor or after it).
	polled := make(chan api.TimestampView, 1)
	go func() {
		var ts api.TimestampView
		getE2EWith(t, &http.Client{Timeout: waitLimit}, s.url+"/v1/timestamps/"+hexes[0]+"?wait=60&since=pending", token, &ts)
		polled <- ts
	}()
	confirmed := mineUntilConfirmed(t, c, s.url, digests)
	select {
	case ts := <-polled:
		if ts.Status == service.StatusPending {
			t.Errorf("the long poll answered pending")
		}
	case <-time.After(waitLimit):
		t.Fatal("the long poll did not answer")
	}

	// The batch's webhook: one POST with the timestamps of its digests, in its order.
	select {
	case b := <-hooks:
		var v api.BatchWebhookView
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		if len(v.Timestamps) != len(digests) {
			t.Fatalf("the batch's webhook has %d timestamps, want %d", len(v.Timestamps), len(digests))
		}
		for i, ts := range v.Timestamps {
			if ts.Digest != hexes[i] || ts.Status != service.StatusConfirmed || ts.Proof == nil || !ts.Proof.Complete() {
				t.Errorf("webhook timestamp %d: digest %s, status %s", i, ts.Digest, ts.Status)
				continue
			}
			if _, err := notary.Verify(ts.Proof, ts.Proof.OwnKey()); err != nil {
				t.Errorf("webhook proof: %v", err)
			}
		}
	case <-time.After(waitLimit):
		t.Fatal("no webhook for the batch")
	}

	var status api.StatusView
	getE2E(t, s.url+"/v1/status", "", &status)
	if status.Network != "regtest" || status.NodeHeight == nil || *status.NodeHeight < matureBlocks || status.Wallet == nil ||
		status.Wallet.BalanceSat <= 0 || len(status.Anchors) == 0 || status.Anchors[0].Status != service.AnchorFinal || status.LogSize != 3 {
		t.Errorf("status %+v", status)
	}
	var anchors api.AnchorsView
	getE2E(t, s.url+"/v1/anchors", "", &anchors)
	if len(anchors.Anchors) == 0 || anchors.Anchors[0].TxID != confirmed[digests[0]].Anchor.TxID {
		t.Errorf("anchors %+v", anchors)
	}
	var ready api.ReadyView
	getE2E(t, s.url+"/readyz", "", &ready)
	if !ready.Ready || !ready.Node.OK || !ready.Database.OK {
		t.Errorf("readyz %+v", ready)
	}
	var incl api.InclusionView
	size := status.Checkpoint.Size
	getE2E(t, s.url+"/v1/proofs/inclusion?index=1&size="+strconv.FormatInt(size, 10), "", &incl)
	if incl.LeafHash != items[1].LeafHash || incl.Root != status.Checkpoint.Root {
		t.Errorf("inclusion %+v", incl)
	}
	// A delivery is counted once the receiver's answer is read, just after it got the body:
	// one, for the whole batch.
	waitFor(t, waitLimit, "the metrics", func() (bool, error) {
		metrics := getText(t, s.url+"/metrics")
		for _, want := range []string{`notary_anchors{status="final"} 1`, "notary_node_up 1", `notary_digests_submitted_total{endpoint="batch"} 3`, `notary_webhook_attempts_total{result="delivered"} 1`} {
			if !strings.Contains(metrics, want+"\n") {
				return false, fmt.Errorf("metrics lack %q", want)
			}
		}
		return true, nil
	})
	// Revoked while the service runs: refused once the key cache lets go of it (seconds).
	wantCLI(t, exitOK, "apikey", "revoke", "integration", "--data", c.data)
	waitFor(t, waitLimit, "the revoked key to be refused", func() (bool, error) {
		req, _ := http.NewRequest(http.MethodGet, s.url+"/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := httpClient.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized, nil
	})
}

func getE2E(t *testing.T, url, token string, v any) {
	t.Helper()
	getE2EWith(t, httpClient, url, token, v)
}

func getE2EWith(t *testing.T, client *http.Client, url, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Errorf("GET %s: status %d, %s", url, resp.StatusCode, b)
		return
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Errorf("GET %s: %v", url, err)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// readFileIfAny returns the contents of the file at path, nil if there is none.
func readFileIfAny(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return data, err
}
