package api

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/notary-dev/notary/service"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// The metrics are kept by github.com/prometheus/client_golang and written in the
// Prometheus text exposition format (version 0.0.4). The series that live between scrapes
// (counters, the latency histogram) are in the registry of the API; the gauges of the
// service's state are read at each scrape, with the context of the request.

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

	reg      *prometheus.Registry
	digests  *prometheus.CounterVec   // digests submitted, by endpoint
	limited  *prometheus.CounterVec   // requests refused by a rate limit, by who
	requests *prometheus.HistogramVec // by method, route and code
}

func newMetrics(cfg Config, probe *nodeProbe) *metrics {
	m := &metrics{
		cfg: cfg, probe: probe, reg: prometheus.NewRegistry(),
		digests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notary_digests_submitted_total", Help: "Digests submitted (new or not), by endpoint.",
		}, []string{"endpoint"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notary_rate_limited_total", Help: "Requests refused by a rate limit, by anonymous or key.",
		}, []string{"who"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "notary_http_request_duration_seconds", Help: "HTTP request latencies, by method, route and status.",
			Buckets: latencyBuckets,
		}, []string{"method", "route", "code"}),
	}
	m.reg.MustRegister(m.digests, m.limited, m.requests)
	return m
}

// middleware observes the latency of every request, by method, route and status; a
// request whose client hung up before its answer has the status 499.
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			// Let the error handler write the answer, so that its status is the one observed.
			c.Error(err)
		}
		status := c.Response().Status
		if err != nil && !c.Response().Committed && clientGone(c, err) {
			status = statusClientGone
		}
		m.requests.WithLabelValues(methodLabel(c.Request().Method), m.routeLabel(c.Path()), strconv.Itoa(status)).Observe(time.Since(start).Seconds())
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
	// The state is read now, for this scrape only.
	state := prometheus.NewRegistry()
	state.MustRegister(&stateCollector{m: m, ctx: c.Request().Context()})
	families, err := prometheus.Gatherers{m.reg, state}.Gather()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return err
		}
	}
	return c.Blob(http.StatusOK, metricsContentType, b.Bytes())
}

// stateCollector reads the gauges of the service's state, the chain's and the webhooks'
// at a scrape; ctx is the scrape's request.
type stateCollector struct {
	m   *metrics
	ctx context.Context
}

// Describe describes nothing: the collector is unchecked, its series depend on what is
// configured and what answers.
func (*stateCollector) Describe(chan<- *prometheus.Desc) {}

func (s *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, m := s.ctx, s.m
	gauge := func(name, help string, v float64) {
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, nil, nil), prometheus.GaugeValue, v)
	}
	svc := m.cfg.Service
	cp := svc.LatestCheckpoint()
	gauge("notary_log_size", "Entries durably in the log.", float64(svc.Size()))
	gauge("notary_sequencer_queue_depth", "Submissions waiting for the sequencer.", float64(svc.QueueDepth()))
	gauge("notary_long_polls", "Lookups (?wait=) waiting for a change of status.", float64(svc.LongPolls()))
	gauge("notary_batches_in_progress", "Batch submissions from reading their body to writing their answer.", float64(m.batches.inProgress()))
	writing := 0.0
	if !svc.Follower() {
		writing = 1
	}
	gauge("notary_writer", "1 if this process writes the log, 0 if it follows it.", writing)
	gauge("notary_writer_epoch", "The epoch at which this process writes the log (0 on a follower).", float64(svc.Epoch()))
	lagEntries, lagAge := svc.FollowerLag()
	gauge("notary_follower_lag_entries", "Entries the log grew by between this follower's last two reads of its head.", float64(lagEntries))
	gauge("notary_follower_lag_seconds", "Seconds since this follower last read the log's head.", lagAge.Seconds())
	follow := svc.FollowStats()
	watching := 0.0
	if follow.Watching {
		watching = 1
	}
	gauge("notary_follower_watching", "1 if the database tells this follower of every commit that moves the log's head, else 0 (the writer, or a follower that only polls).", watching)
	counter := func(name, help string, v int64) {
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, nil, nil), prometheus.CounterValue, float64(v))
	}
	counter("notary_follower_notifications_total", "Notifications that the log's head moved received by this follower (one may stand for several commits).", follow.Notifications)
	counter("notary_follower_watch_lost_total", "Times this follower lost the connection on which the database tells it of commits, or failed to make it again.", follow.Lost)
	counter("notary_follower_head_reads_total", "Reads of the log's head by this follower, told to or by the clock.", follow.Reads)
	if cl := m.cfg.Cluster; cl != nil {
		if standbys, err := cl.Standbys(ctx); err == nil {
			gauge("notary_db_standbys", "Standby servers replicating the log's database.", float64(len(standbys)))
			lagBytes := prometheus.NewDesc("notary_db_standby_lag_bytes", "WAL the primary wrote that the standby has not replayed yet.", []string{"standby"}, nil)
			lagSeconds := prometheus.NewDesc("notary_db_standby_lag_seconds", "How long the standby's latest replay trailed the commit.", []string{"standby"}, nil)
			sync := prometheus.NewDesc("notary_db_standby_synchronous", "1 if commits wait for the standby (it may be promoted without loss), else 0.", []string{"standby"}, nil)
			for _, sb := range standbys {
				// Standby names are the operator's (application_name), not a client's.
				ch <- prometheus.MustNewConstMetric(lagBytes, prometheus.GaugeValue, float64(sb.LagBytes), sb.Name)
				if sb.LagSeconds != nil {
					ch <- prometheus.MustNewConstMetric(lagSeconds, prometheus.GaugeValue, *sb.LagSeconds, sb.Name)
				}
				synchronous := 0.0
				if sb.Synchronous {
					synchronous = 1
				}
				ch <- prometheus.MustNewConstMetric(sync, prometheus.GaugeValue, synchronous, sb.Name)
			}
		}
	}
	gauge("notary_digest_index_lag", "Durable entries the digest index does not cover yet (held in memory).", float64(svc.Unindexed()))
	gauge("notary_checkpoint_size", "Size of the latest signed checkpoint.", float64(cp.Size))
	gauge("notary_checkpoint_age_seconds", "Seconds since the latest checkpoint was signed (or loaded at start).",
		max(time.Since(svc.CheckpointTime()).Seconds(), 0))
	if ws, quorum := svc.Witnesses(); ws != nil {
		cosigned := int64(-1)
		if c, ok := svc.CosignedCheckpoint(); ok {
			cosigned = c.Size
		}
		gauge("notary_witness_quorum", "How many witnesses must cosign a checkpoint for it to be published cosigned.", float64(quorum))
		gauge("notary_cosigned_checkpoint_size", "Size of the latest checkpoint a quorum of witnesses cosigned (-1: none yet).", float64(cosigned))
		size := prometheus.NewDesc("notary_witness_cosigned_size", "Size of the latest checkpoint each witness cosigned (-1: none since the start).", []string{"witness"}, nil)
		failing := prometheus.NewDesc("notary_witness_failing", "1 if the latest request to the witness failed.", []string{"witness"}, nil)
		for _, w := range ws {
			// Witness names are the operator's (--witness), not a client's.
			ch <- prometheus.MustNewConstMetric(size, prometheus.GaugeValue, float64(w.CosignedSize), w.Name)
			f := 0.0
			if w.Error != "" {
				f = 1
			}
			ch <- prometheus.MustNewConstMetric(failing, prometheus.GaugeValue, f, w.Name)
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
		anchors := prometheus.NewDesc("notary_anchors", "Live anchors, by status.", []string{"status"}, nil)
		for _, st := range []service.AnchorStatus{service.AnchorSigned, service.AnchorMempool, service.AnchorConfirmed, service.AnchorFinal} {
			ch <- prometheus.MustNewConstMetric(anchors, prometheus.GaugeValue, float64(counts[st]), string(st))
		}
		gauge("notary_anchor_latest_size", "Log size committed by the newest anchor.", float64(latest.Size))
		gauge("notary_anchor_latest_confirmations", "Confirmations of the newest anchor.", float64(latest.Confirmations))
		gauge("notary_anchor_latest_replacements", "Fee bumps of the newest anchor.", float64(latest.Replacements))
		if age, ok := m.oldestUnanchored(ctx, chain.Anchors()); ok {
			gauge("notary_unanchored_oldest_seconds", "Seconds since the oldest entry that no final anchor covers was logged (0: none).", age)
		}
		if w, err := chain.Wallet(ctx); err == nil {
			gauge("notary_wallet_balance_sat", "Anchoring wallet balance in the best chain, satoshis.", float64(w.Balance))
			gauge("notary_wallet_spendable_sat", "Spendable part of the anchoring wallet balance, satoshis.", float64(w.Spendable))
		}
		n := m.probe.check(ctx)
		up := 0.0
		if n.recent {
			up = 1
		}
		gauge("notary_node_up", "Whether the Bitcoin node answered recently.", up)
		if n.err == nil {
			gauge("notary_node_height", "Height of the Bitcoin node's best chain.", float64(n.height))
		}
	}
	if w := m.cfg.Webhooks; w != nil {
		if pending, failed, err := w.Counts(ctx); err == nil {
			gauge("notary_webhooks_pending", "Webhooks waiting for their proof or their next attempt.", float64(pending))
			gauge("notary_webhooks_failed", "Webhooks given up on.", float64(failed))
		}
		attempts := prometheus.NewDesc("notary_webhook_attempts_total", "Webhook delivery attempts, by result.", []string{"result"}, nil)
		delivered, failed := w.Attempts()
		ch <- prometheus.MustNewConstMetric(attempts, prometheus.CounterValue, float64(delivered), "delivered")
		ch <- prometheus.MustNewConstMetric(attempts, prometheus.CounterValue, float64(failed), "failed")
	}
}

// oldestUnanchored returns the age in seconds of the oldest entry that no final anchor of
// anchors covers (a final anchor of size n covers the entries below n), 0 when there is none;
// ok is false when the entry could not be read.
func (m *metrics) oldestUnanchored(ctx context.Context, anchors []service.Anchor) (float64, bool) {
	svc := m.cfg.Service
	var covered int64
	for _, a := range anchors {
		if a.Status == service.AnchorFinal && a.Size > covered {
			covered = a.Size
		}
	}
	if covered >= svc.Size() {
		return 0, true
	}
	ts, err := svc.TimestampAt(ctx, covered)
	if err != nil {
		return 0, false
	}
	return max(time.Since(ts.Entry.Time).Seconds(), 0), true
}
