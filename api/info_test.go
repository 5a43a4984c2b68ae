package api_test

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/strictjson"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

func TestAnchors(t *testing.T) {
	f := newFull(t, fullConfig{stack: stackConfig{CheckpointInterval: 5 * time.Millisecond}})
	var v api.AnchorsView
	getJSON(t, f.url+"/v1/anchors", &v)
	if v.Anchors == nil || len(v.Anchors) != 0 {
		t.Errorf("anchors %v before any, want []", v.Anchors)
	}
	_, cp := logOf(t, f.stack, 5)
	var all []service.Anchor
	for id := int64(150); id >= 1; id-- { // newest first
		all = append(all, anchorOf(cp, service.AnchorFinal, id))
	}
	all[0] = anchorOf(cp, service.AnchorMempool, 150)
	f.chain.set(all...)

	getJSON(t, f.url+"/v1/anchors", &v)
	if len(v.Anchors) != 100 {
		t.Fatalf("%d anchors, want the default limit, 100", len(v.Anchors))
	}
	if a := v.Anchors[0]; a.Status != service.AnchorMempool || a.Replacements != 150 || a.LogSize != cp.Size || a.Height != 0 {
		t.Errorf("newest anchor %+v", a)
	}
	if a := v.Anchors[1]; a.Status != service.AnchorFinal || a.Height != 249 || a.Confirmations != 6 || a.TxID != strings.Repeat("ab", 32) || a.Fee != 210 {
		t.Errorf("second anchor %+v", a)
	}
	getJSON(t, f.url+"/v1/anchors?limit=3", &v)
	if len(v.Anchors) != 3 || v.Anchors[2].Replacements != 148 {
		t.Errorf("limit=3: %+v", v.Anchors)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "limit=-1"} {
		wantError(t, do(t, http.DefaultClient, http.MethodGet, f.url+"/v1/anchors?"+q, "", nil), 400, "bad_request")
	}

	t.Run("without Bitcoin", func(t *testing.T) {
		s := newStack(t, stackConfig{})
		var v api.AnchorsView
		getJSON(t, s.url+"/v1/anchors", &v)
		if v.Anchors == nil || len(v.Anchors) != 0 {
			t.Errorf("anchors %v, want []", v.Anchors)
		}
	})
}

func TestKeys(t *testing.T) {
	f := newFull(t, fullConfig{})
	var v api.KeysView
	getJSON(t, f.url+"/v1/keys", &v)
	if v.Origin != f.signer.Name() || v.LogKey != f.vkey || v.KeyID != fmt.Sprintf("%08x", f.signer.KeyHash()) {
		t.Errorf("keys %+v", v)
	}
	if v.WebhookKey == nil {
		t.Fatal("no webhook key")
	}
	pub, err := base64.StdEncoding.DecodeString(*v.WebhookKey)
	if err != nil || !bytes.Equal(pub, f.hookKey.Public().(ed25519.PublicKey)) {
		t.Errorf("webhook key %q is not the dispatcher's", *v.WebhookKey)
	}
	// A receipt verifies with the published key.
	receipt, _ := submit(t, f.stack, randomDigest().String())
	p, err := notary.ParseProof(receipt.Proof)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := notary.OpenCheckpoint([]byte(p.Log.Checkpoint), v.LogKey); err != nil {
		t.Errorf("the receipt's checkpoint does not open with the published key: %v", err)
	}

	t.Run("without webhooks", func(t *testing.T) {
		r := do(t, http.DefaultClient, http.MethodGet, f.stack.url+"/v1/keys", "", nil)
		if !bytes.Contains(r.body, []byte(`"webhook_key":null`)) {
			t.Errorf("keys %s, want webhook_key null", r.body)
		}
	})
}

func TestStatus(t *testing.T) {
	f := newFull(t, fullConfig{stack: stackConfig{CheckpointInterval: 5 * time.Millisecond}})
	before := time.Now().Round(0) // wall clock, as the service keeps the checkpoint's time
	_, cp := logOf(t, f.stack, 9)
	next := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f.chain.mu.Lock()
	f.chain.next, f.chain.nextOK = next, true
	f.chain.mu.Unlock()
	var anchors []service.Anchor
	for id := int64(12); id >= 1; id-- {
		anchors = append(anchors, anchorOf(cp, service.AnchorFinal, id))
	}
	f.chain.set(anchors...)

	var v api.StatusView
	getJSON(t, f.url+"/v1/status", &v)
	if v.Origin != f.signer.Name() || v.LogSize != 9 || v.Checkpoint.Size != cp.Size || v.Checkpoint.Root != cp.Root {
		t.Errorf("status %+v", v)
	}
	// Signed after the entries were submitted: no older than the time since then.
	if age := time.Duration(v.Checkpoint.AgeSeconds) * time.Second; age < 0 || age > time.Since(before) {
		t.Errorf("checkpoint age %d s, %v after the entries were submitted", v.Checkpoint.AgeSeconds, time.Since(before))
	}
	if len(v.Anchors) != 10 || v.Anchors[0].Replacements != 12 {
		t.Errorf("%d recent anchors, newest %+v; want 10, newest first", len(v.Anchors), v.Anchors[0])
	}
	if v.NextAnchor == nil || !v.NextAnchor.Equal(next) {
		t.Errorf("next anchor %v, want %v", v.NextAnchor, next)
	}
	if v.NodeHeight == nil || *v.NodeHeight != 120 {
		t.Errorf("node height %v, want 120", v.NodeHeight)
	}
	if v.Network != "regtest" || v.Wallet == nil || v.Wallet.Address != "bcrt1qexample" || v.Wallet.BalanceSat != 5_000_000_000 || v.Wallet.SpendableSat != 4_000_000_000 {
		t.Errorf("network %q, wallet %+v", v.Network, v.Wallet)
	}
	if v.Webhooks == nil || v.Webhooks.Pending != 0 || v.Webhooks.Failed != 0 {
		t.Errorf("webhooks %+v", v.Webhooks)
	}

	t.Run("an anchor pending, the node down", func(t *testing.T) {
		g := newFull(t, fullConfig{})
		g.chain.mu.Lock()
		g.chain.nextOK, g.chain.nodeErr = false, errors.New("connection refused")
		g.chain.mu.Unlock()
		r := do(t, http.DefaultClient, http.MethodGet, g.url+"/v1/status", "", nil)
		for _, want := range []string{`"next_anchor":null`, `"node_height":null`, `"anchors":[]`} {
			if !bytes.Contains(r.body, []byte(want)) {
				t.Errorf("status %s lacks %s", r.body, want)
			}
		}
	})
	t.Run("without Bitcoin", func(t *testing.T) {
		r := do(t, http.DefaultClient, http.MethodGet, f.stack.url+"/v1/status", "", nil)
		for _, want := range []string{`"wallet":null`, `"node_height":null`, `"next_anchor":null`, `"network":""`} {
			if !bytes.Contains(r.body, []byte(want)) {
				t.Errorf("status %s lacks %s", r.body, want)
			}
		}
	})
}

func TestHealth(t *testing.T) {
	f := newFull(t, fullConfig{})
	r := do(t, http.DefaultClient, http.MethodGet, f.url+"/healthz", "", nil)
	if r.status != 200 || string(r.body) != `{"status":"ok"}`+"\n" {
		t.Errorf("healthz: %d %q", r.status, r.body)
	}

	var v api.ReadyView
	r = do(t, http.DefaultClient, http.MethodGet, f.url+"/readyz", "", nil)
	if err := strictjson.Decode(r.body, &v); err != nil || r.status != 200 || !v.Ready || !v.Database.OK || v.Node == nil || !v.Node.OK || *v.Node.Height != 120 {
		t.Errorf("readyz: %d %s", r.status, r.body)
	}

	t.Run("database down", func(t *testing.T) {
		g := newFull(t, fullConfig{pinger: failingPinger{}})
		r := do(t, http.DefaultClient, http.MethodGet, g.url+"/readyz", "", nil)
		var v api.ReadyView
		if err := strictjson.Decode(r.body, &v); err != nil || r.status != 503 || v.Ready || v.Database.OK || !strings.Contains(v.Database.Error, "locked") || !v.Node.OK {
			t.Errorf("readyz: %d %s", r.status, r.body)
		}
		// The process is still up.
		if r := do(t, http.DefaultClient, http.MethodGet, g.url+"/healthz", "", nil); r.status != 200 {
			t.Errorf("healthz: %d", r.status)
		}
	})
	t.Run("node never answered", func(t *testing.T) {
		g := newFull(t, fullConfig{})
		g.chain.mu.Lock()
		g.chain.nodeErr = errors.New("connection refused")
		g.chain.mu.Unlock()
		start := time.Now()
		r := do(t, http.DefaultClient, http.MethodGet, g.url+"/readyz", "", nil)
		var v api.ReadyView
		if err := strictjson.Decode(r.body, &v); err != nil || r.status != 503 || v.Ready || !v.Database.OK || v.Node.OK || !strings.Contains(v.Node.Error, "refused") {
			t.Errorf("readyz: %d %s", r.status, r.body)
		}
		// The node is asked at most every 5 s, however often readyz is: once, unless the
		// machine took longer than that over the checks.
		for range 5 {
			do(t, http.DefaultClient, http.MethodGet, g.url+"/readyz", "", nil)
		}
		took := time.Since(start)
		g.chain.mu.Lock()
		calls := g.chain.calls
		g.chain.mu.Unlock()
		if most := 1 + int(took/(5*time.Second)); calls < 1 || calls > most {
			t.Errorf("the node was asked %d times for 6 readiness checks over %v, want 1 to %d", calls, took, most)
		}
	})
	t.Run("not limited", func(t *testing.T) {
		g := newFull(t, fullConfig{limits: api.Limits{Anonymous: api.Rate{PerSecond: 0.001, Burst: 1}}})
		for range 5 {
			for _, path := range []string{"/healthz", "/readyz", "/metrics", "/v1/openapi.json"} {
				if r := do(t, http.DefaultClient, http.MethodGet, g.url+path, "", nil); r.status != 200 {
					t.Errorf("%s: status %d", path, r.status)
				}
			}
		}
	})
}

// metricLine matches a sample line of the Prometheus text format.
var metricLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$`)

// parseMetrics checks the text format strictly and returns the samples, by name with labels.
func parseMetrics(t *testing.T, body []byte) map[string]float64 {
	t.Helper()
	samples := map[string]float64{}
	typed := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			if _, dup := typed[name]; dup {
				t.Errorf("TYPE of %s given twice", name)
			}
			typed[name] = typ
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := metricLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("malformed line %q", line)
			continue
		}
		v, err := strconv.ParseFloat(m[4], 64)
		if err != nil && m[4] != "+Inf" {
			t.Errorf("line %q: value %v", line, err)
		}
		family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m[1], "_bucket"), "_sum"), "_count")
		if typed[m[1]] == "" && typed[family] == "" {
			t.Errorf("sample %s has no TYPE before it", m[1])
		}
		samples[m[1]+m[2]] = v
	}
	return samples
}

func TestMetrics(t *testing.T) {
	f := newFull(t, fullConfig{stack: stackConfig{CheckpointInterval: 5 * time.Millisecond}})
	before := time.Now().Round(0) // wall clock, as the service keeps the checkpoint's time
	submit(t, f.stack, randomDigest().String())
	do(t, http.DefaultClient, http.MethodPost, f.url+"/v1/timestamps", "application/json", submitBody(randomDigest().String()))
	postBatch(t, f.url, batchJSON(randomDigest().String(), randomDigest().String()))
	_, cp := logOf(t, f.stack, 2)
	f.chain.set(anchorOf(cp, service.AnchorMempool, 2), anchorOf(cp, service.AnchorFinal, 1))

	r := do(t, http.DefaultClient, http.MethodGet, f.url+"/metrics", "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("status %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
	}
	m := parseMetrics(t, r.body)
	want := map[string]float64{
		`notary_digests_submitted_total{endpoint="single"}`: 1,
		`notary_digests_submitted_total{endpoint="batch"}`:  2,
		`notary_log_size`:                   6,
		`notary_checkpoint_size`:            6,
		`notary_anchors{status="mempool"}`:  1,
		`notary_anchors{status="final"}`:    1,
		`notary_anchors{status="signed"}`:   0,
		`notary_anchor_latest_replacements`: 2,
		`notary_wallet_balance_sat`:         5e9,
		`notary_wallet_spendable_sat`:       4e9,
		`notary_node_height`:                120,
		`notary_node_up`:                    1,
		`notary_webhooks_pending`:           0,
		`notary_sequencer_queue_depth`:      0,
		`notary_http_request_duration_seconds_count{code="200",method="POST",route="/v1/timestamps"}`:       1,
		`notary_http_request_duration_seconds_count{code="200",method="POST",route="/v1/timestamps/batch"}`: 1,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	// Signed after the entries were submitted: no older than the time since then.
	if age, ok := m["notary_checkpoint_age_seconds"]; !ok || age < 0 || age > time.Since(before).Seconds() {
		t.Errorf("checkpoint age %v s, %v after the entries were submitted", age, time.Since(before))
	}
	// The final anchor covers every entry; then one more is logged, which it does not.
	if age, ok := m["notary_unanchored_oldest_seconds"]; !ok || age != 0 {
		t.Errorf("oldest unanchored entry %v s (present %v) with every entry anchored, want 0", age, ok)
	}
	beforeNext := time.Now().Round(0)
	submit(t, f.stack, randomDigest().String())
	next := parseMetrics(t, do(t, http.DefaultClient, http.MethodGet, f.url+"/metrics", "", nil).body)
	if age, ok := next["notary_unanchored_oldest_seconds"]; !ok || age <= 0 || age > time.Since(beforeNext).Seconds()+0.001 {
		t.Errorf("oldest unanchored entry %v s (present %v), %v after it was submitted", age, ok, time.Since(beforeNext))
	}
	if b := m[`notary_http_request_duration_seconds_bucket{code="200",method="POST",route="/v1/timestamps",le="+Inf"}`]; b != 1 {
		t.Errorf("+Inf bucket %v, want 1", b)
	}

	t.Run("errors are observed with their status", func(t *testing.T) {
		do(t, http.DefaultClient, http.MethodGet, f.url+"/v1/timestamps/nope", "", nil)
		do(t, http.DefaultClient, http.MethodGet, f.url+"/v1/nothing", "", nil)
		m := parseMetrics(t, do(t, http.DefaultClient, http.MethodGet, f.url+"/metrics", "", nil).body)
		for _, k := range []string{
			`notary_http_request_duration_seconds_count{code="400",method="GET",route="/v1/timestamps/:digest"}`,
			`notary_http_request_duration_seconds_count{code="404",method="GET",route="other"}`,
		} {
			if m[k] != 1 {
				t.Errorf("%s = %v, want 1", k, m[k])
			}
		}
	})
}
