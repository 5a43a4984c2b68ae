package api

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/notary-dev/notary/service"
)

// The metrics are written in the Prometheus text exposition format (version 0.0.4) by
// hand: a handful of counters, gauges and one histogram do not need a client library.

// metricsContentType is the media type of the Prometheus text format.
const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

// latencyBuckets are the upper bounds, in seconds, of the request latency histogram; long
// polls take up to MaxWait.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

type metrics struct {
	cfg   Config
	probe *nodeProbe
	// routes are the route patterns registered, the only values of the route label
	// besides "other"; set before the handler serves.
	routes map[string]bool
	// batches are the batch submissions in progress; set before the handler serves.
	batches *inFlight

	digests  counterVec // digests submitted, by endpoint
	limited  counterVec // requests refused by a rate limit, by who
	requests histogramVec
}

func newMetrics(cfg Config, probe *nodeProbe) *metrics {
	return &metrics{cfg: cfg, probe: probe}
}

// middleware observes the latency of every request, by method, route and status.
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			// Let the error handler write the answer, so that its status is the one observed.
			c.Error(err)
		}
		status := c.Response().Status
		m.requests.observe(time.Since(start).Seconds(), methodLabel(c.Request().Method), m.routeLabel(c.Path()), strconv.Itoa(status))
		return nil
	}
}

// Every label comes from a closed set, so that no request can add a series to /metrics
// that others cannot: a client inventing methods or paths would otherwise grow it (and
// the process) without bound.

// methodLabel returns the method of a request as a label: a method of HTTP, or "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}

// routeLabel returns the route of a request as a label: the pattern of a registered route
// it matched, or "other" (no route, or a wildcard one).
func (m *metrics) routeLabel(route string) string {
	if !m.routes[route] || strings.HasSuffix(route, "/*") {
		return "other"
	}
	return route
}

func (m *metrics) serve(c echo.Context) error {
	ctx := c.Request().Context()
	var x exposition
	svc := m.cfg.Service
	cp := svc.LatestCheckpoint()

	x.family("notary_digests_submitted_total", "counter", "Digests submitted (new or not), by endpoint.")
	m.digests.write(&x, "notary_digests_submitted_total", "endpoint")
	x.family("notary_rate_limited_total", "counter", "Requests refused by a rate limit, by anonymous or key.")
	m.limited.write(&x, "notary_rate_limited_total", "who")
	x.family("notary_http_request_duration_seconds", "histogram", "HTTP request latencies, by method, route and status.")
	m.requests.write(&x, "notary_http_request_duration_seconds", "method", "route", "code")

	x.gauge("notary_log_size", "Entries durably in the log.", float64(svc.Size()))
	x.gauge("notary_sequencer_queue_depth", "Submissions waiting for the sequencer.", float64(svc.QueueDepth()))
	x.gauge("notary_batches_in_progress", "Batch submissions from reading their body to writing their answer.", float64(m.batches.inProgress()))
	writing := 0.0
	if !svc.Follower() {
		writing = 1
	}
	x.gauge("notary_writer", "1 if this process writes the log, 0 if it follows it.", writing)
	x.gauge("notary_writer_epoch", "The epoch at which this process writes the log (0 on a follower).", float64(svc.Epoch()))
	lagEntries, lagAge := svc.FollowerLag()
	x.gauge("notary_follower_lag_entries", "Entries the log grew by between this follower's last two reads of its head.", float64(lagEntries))
	x.gauge("notary_follower_lag_seconds", "Seconds since this follower last read the log's head.", lagAge.Seconds())
	x.gauge("notary_digest_index_lag", "Durable entries the digest index does not cover yet (held in memory).", float64(svc.Unindexed()))
	x.gauge("notary_checkpoint_size", "Size of the latest signed checkpoint.", float64(cp.Size))
	x.gauge("notary_checkpoint_age_seconds", "Seconds since the latest checkpoint was signed (or loaded at start).",
		max(time.Since(svc.CheckpointTime()).Seconds(), 0))
	if ws, quorum := svc.Witnesses(); ws != nil {
		cosigned := int64(-1)
		if c, ok := svc.CosignedCheckpoint(); ok {
			cosigned = c.Size
		}
		x.gauge("notary_witness_quorum", "How many witnesses must cosign a checkpoint for it to be published cosigned.", float64(quorum))
		x.gauge("notary_cosigned_checkpoint_size", "Size of the latest checkpoint a quorum of witnesses cosigned (-1: none yet).", float64(cosigned))
		x.family("notary_witness_cosigned_size", "gauge", "Size of the latest checkpoint each witness cosigned (-1: none since the start).")
		for _, w := range ws {
			x.sample("notary_witness_cosigned_size", float64(w.CosignedSize), "witness", w.Name)
		}
		x.family("notary_witness_failing", "gauge", "1 if the latest request to the witness failed.")
		for _, w := range ws {
			failing := 0.0
			if w.Error != "" {
				failing = 1
			}
			x.sample("notary_witness_failing", failing, "witness", w.Name)
		}
	}

	if chain := m.cfg.Chain; chain != nil {
		counts := map[service.AnchorStatus]int{}
		var latest service.Anchor
		for i, a := range chain.Anchors() {
			if i == 0 {
				latest = a
			}
			counts[a.Status]++
		}
		x.family("notary_anchors", "gauge", "Live anchors, by status.")
		for _, st := range []service.AnchorStatus{service.AnchorSigned, service.AnchorMempool, service.AnchorConfirmed, service.AnchorFinal} {
			x.sample("notary_anchors", float64(counts[st]), "status", string(st))
		}
		x.gauge("notary_anchor_latest_size", "Log size committed by the newest anchor.", float64(latest.Size))
		x.gauge("notary_anchor_latest_confirmations", "Confirmations of the newest anchor.", float64(latest.Confirmations))
		x.gauge("notary_anchor_latest_replacements", "Fee bumps of the newest anchor.", float64(latest.Replacements))
		if w, err := chain.Wallet(ctx); err == nil {
			x.gauge("notary_wallet_balance_sat", "Anchoring wallet balance in the best chain, satoshis.", float64(w.Balance))
			x.gauge("notary_wallet_spendable_sat", "Spendable part of the anchoring wallet balance, satoshis.", float64(w.Spendable))
		}
		n := m.probe.check(ctx)
		up := 0.0
		if n.recent {
			up = 1
		}
		x.gauge("notary_node_up", "Whether the Bitcoin node answered recently.", up)
		if n.err == nil {
			x.gauge("notary_node_height", "Height of the Bitcoin node's best chain.", float64(n.height))
		}
	}
	if w := m.cfg.Webhooks; w != nil {
		if pending, failed, err := w.store.WebhookCounts(ctx); err == nil {
			x.gauge("notary_webhooks_pending", "Webhooks waiting for their proof or their next attempt.", float64(pending))
			x.gauge("notary_webhooks_failed", "Webhooks given up on.", float64(failed))
		}
		x.family("notary_webhook_attempts_total", "counter", "Webhook delivery attempts, by result.")
		w.attempts.write(&x, "notary_webhook_attempts_total", "result")
	}
	return c.Blob(http.StatusOK, metricsContentType, x.b)
}

// exposition builds a text exposition.
type exposition struct{ b []byte }

func (x *exposition) family(name, typ, help string) {
	x.b = append(x.b, "# HELP "...)
	x.b = append(x.b, name...)
	x.b = append(x.b, ' ')
	x.b = append(x.b, help...)
	x.b = append(x.b, "\n# TYPE "...)
	x.b = append(x.b, name...)
	x.b = append(x.b, ' ')
	x.b = append(x.b, typ...)
	x.b = append(x.b, '\n')
}

func (x *exposition) gauge(name, help string, v float64) {
	x.family(name, "gauge", help)
	x.sample(name, v)
}

// sample writes one sample; labels are name, value pairs.
func (x *exposition) sample(name string, v float64, labels ...string) {
	x.b = append(x.b, name...)
	if len(labels) > 0 {
		x.b = append(x.b, '{')
		for i := 0; i < len(labels); i += 2 {
			if i > 0 {
				x.b = append(x.b, ',')
			}
			x.b = append(x.b, labels[i]...)
			x.b = append(x.b, `="`...)
			x.b = append(x.b, escapeLabel(labels[i+1])...)
			x.b = append(x.b, '"')
		}
		x.b = append(x.b, '}')
	}
	x.b = append(x.b, ' ')
	x.b = appendFloat(x.b, v)
	x.b = append(x.b, '\n')
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
		return strconv.AppendInt(b, int64(v), 10) // counts and satoshis, without an exponent
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// counterVec is a counter with one label.
type counterVec struct {
	m sync.Map // label value → *atomic.Int64
}

func (c *counterVec) add(label string, n int) {
	v, ok := c.m.Load(label)
	if !ok {
		v, _ = c.m.LoadOrStore(label, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(int64(n))
}

func (c *counterVec) write(x *exposition, name, label string) {
	var keys []string
	c.m.Range(func(k, _ any) bool { keys = append(keys, k.(string)); return true })
	slices.Sort(keys)
	for _, k := range keys {
		v, _ := c.m.Load(k)
		x.sample(name, float64(v.(*atomic.Int64).Load()), label, k)
	}
}

// histogramVec is a histogram of latencyBuckets with labels.
type histogramVec struct {
	m sync.Map // labels joined by "\x00" → *histogram
}

type histogram struct {
	counts []atomic.Int64 // per bucket, not cumulative; the last is +Inf
	sumNS  atomic.Int64   // sum of the observations, nanoseconds
}

func (h *histogramVec) observe(seconds float64, labels ...string) {
	key := strings.Join(labels, "\x00")
	v, ok := h.m.Load(key)
	if !ok {
		v, _ = h.m.LoadOrStore(key, &histogram{counts: make([]atomic.Int64, len(latencyBuckets)+1)})
	}
	hist := v.(*histogram)
	i, _ := slices.BinarySearch(latencyBuckets, seconds)
	hist.counts[i].Add(1)
	hist.sumNS.Add(int64(seconds * 1e9))
}

func (h *histogramVec) write(x *exposition, name string, labelNames ...string) {
	var keys []string
	h.m.Range(func(k, _ any) bool { keys = append(keys, k.(string)); return true })
	slices.Sort(keys)
	for _, k := range keys {
		v, _ := h.m.Load(k)
		hist := v.(*histogram)
		values := strings.Split(k, "\x00")
		labels := make([]string, 0, 2*len(values)+2)
		for i, n := range labelNames {
			labels = append(labels, n, values[i])
		}
		var cum int64
		for i := range hist.counts {
			cum += hist.counts[i].Load()
			le := "+Inf"
			if i < len(latencyBuckets) {
				le = strconv.FormatFloat(latencyBuckets[i], 'g', -1, 64)
			}
			x.sample(name+"_bucket", float64(cum), append(labels, "le", le)...)
		}
		x.sample(name+"_sum", float64(hist.sumNS.Load())/1e9, labels...)
		x.sample(name+"_count", float64(cum), labels...)
	}
}
