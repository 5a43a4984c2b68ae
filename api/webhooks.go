package api

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/prometheus/client_golang/prometheus"
)

// WebhookStore keeps webhooks durably, so that a restart loses none. store.DB implements it.
type WebhookStore interface {
	// AddWebhooks registers a callback to url for each entry; a pair registered before is
	// left as it is.
	AddWebhooks(ctx context.Context, url string, entries []int64, now time.Time) error
	// DueWebhooks calls fn for at most limit pending webhooks whose entry is below
	// confirmed and whose next attempt is due by now, in order of due time.
	DueWebhooks(ctx context.Context, confirmed int64, now time.Time, limit int,
		fn func(id, entry int64, url string, attempts int) error) error
	// WebhookDelivered records a delivery.
	WebhookDelivered(ctx context.Context, id int64, now time.Time) error
	// WebhookFailed records a failed attempt; the next is due at next, unless giveUp.
	WebhookFailed(ctx context.Context, id int64, reason string, next time.Time, giveUp bool) error
	// WebhookCounts returns the numbers of pending and failed webhooks.
	WebhookCounts(ctx context.Context) (pending, failed int64, err error)
}

// WebhookConfig configures Webhooks. Service, Store and Key are required.
type WebhookConfig struct {
	Service *service.Service
	Store   WebhookStore
	// Key signs every delivery (the Notary-Signature header, see notary.SignWebhook); its
	// public half is published at /v1/keys as webhook_key.
	Key ed25519.PrivateKey
	// AllowPrivate lets callbacks reach loopback, private and link-local addresses (a
	// local stack, tests). Otherwise only public addresses are dialled, whatever a
	// callback's host name resolves to.
	AllowPrivate bool
	// Backoff is the wait after a first failed attempt; it doubles with each failure up
	// to MaxBackoff. After MaxAttempts attempts the webhook is given up.
	// Defaults: 30 s, 1 h, 16 (about nine hours of attempts).
	Backoff, MaxBackoff time.Duration
	MaxAttempts         int
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// Workers is how many attempts run at once (default 4).
	Workers int
	// Poll is how often due retries are looked for (default 1 s); new proofs and new
	// registrations are looked at as they come.
	Poll   time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// Webhooks POSTs an entry's timestamp (the TimestampView JSON of GET /v1/timestamps) to
// each callback registered for it once its proof is complete (status confirmed), signed
// with the webhook key, and retries with exponential backoff until the receiver answers
// 2xx. Deliveries are at least once: a receiver tells repeats by the Notary-Webhook-Id header.
type Webhooks struct {
	cfg      WebhookConfig
	store    WebhookStore
	client   *http.Client
	kick     chan struct{}
	attempts *prometheus.CounterVec // by result
}

// Webhook defaults.
const (
	DefaultWebhookBackoff     = 30 * time.Second
	DefaultWebhookMaxBackoff  = time.Hour
	DefaultWebhookMaxAttempts = 16
	maxCallbackLen            = 2048
	webhookPage               = 256
)

// NewWebhooks returns a webhook dispatcher; Run delivers.
func NewWebhooks(cfg WebhookConfig) (*Webhooks, error) {
	if cfg.Service == nil || cfg.Store == nil || len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("api: WebhookConfig needs Service, Store and an Ed25519 Key")
	}
	cfg.Backoff = cmp.Or(cfg.Backoff, DefaultWebhookBackoff)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, DefaultWebhookMaxBackoff)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultWebhookMaxAttempts)
	cfg.Timeout = cmp.Or(cfg.Timeout, 10*time.Second)
	cfg.Workers = cmp.Or(cfg.Workers, 4)
	cfg.Poll = cmp.Or(cfg.Poll, time.Second)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout}
	if !cfg.AllowPrivate {
		dialer.Control = dialPublicOnly
	}
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, past the address check
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConnsPerHost:   cfg.Workers,
		IdleConnTimeout:       time.Minute,
	}
	return &Webhooks{
		cfg: cfg, store: cfg.Store, kick: make(chan struct{}, 1),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notary_webhook_attempts_total", Help: "Webhook delivery attempts, by result.",
		}, []string{"result"}),
		client: &http.Client{
			Transport: tr,
			Timeout:   cfg.Timeout,
			// A redirect is an answer, not a success: the callback URL is the one registered.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// PublicKey returns the key that verifies the webhooks' signatures.
func (w *Webhooks) PublicKey() ed25519.PublicKey { return w.cfg.Key.Public().(ed25519.PublicKey) }

// CheckURL returns an error, in words for the client, unless u is an acceptable callback
// (see CheckCallbackURL).
func (w *Webhooks) CheckURL(u string) error { return CheckCallbackURL(u, w.cfg.AllowPrivate) }

// CheckCallbackURL returns an error, in words for the client, unless u is an acceptable
// callback: an absolute http or https URL of at most 2048 bytes without credentials or
// fragment, with a port, if any, from 1 to 65535, and, unless allowPrivate, whose host is
// neither localhost nor an address of a special-purpose range (loopback, private, link
// local, NAT64, 6to4, …; see publicAddr). (Whatever a host name resolves to, only public
// addresses are dialled unless allowPrivate.)
func CheckCallbackURL(u string, allowPrivate bool) error {
	if len(u) > maxCallbackLen {
		return fmt.Errorf("the callback URL is longer than %d bytes", maxCallbackLen)
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.Opaque != "" {
		return fmt.Errorf("the callback %q is not an absolute http or https URL", u)
	}
	if p.User != nil {
		return errors.New("the callback URL must not carry credentials")
	}
	if p.Fragment != "" || strings.HasSuffix(u, "#") {
		return errors.New("the callback URL must not have a fragment")
	}
	if port := p.Port(); port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("the callback port %s is not from 1 to 65535", port)
		}
	}
	if !allowPrivate {
		host := p.Hostname()
		if ip, err := netip.ParseAddr(host); err == nil && !publicAddr(ip) {
			return fmt.Errorf("the callback host %s is not a public address", host)
		}
		if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
			return fmt.Errorf("the callback host %s is not a public address", host)
		}
	}
	return nil
}

// Register records that url is to be called back for each of the entries, durably, and
// has entries already confirmed delivered at once.
func (w *Webhooks) Register(ctx context.Context, url string, entries []int64) error {
	if err := w.store.AddWebhooks(ctx, url, entries, w.cfg.Now()); err != nil {
		return err
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return nil
}

// Run delivers webhooks until ctx is done: whenever the anchors change (a proof may have
// become complete), a callback is registered, or a retry falls due.
func (w *Webhooks) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	confirmed := int64(-1) // the service's confirmed size; -1: to be asked
	changed := w.cfg.Service.AnchorChanges()
	for {
		// The change is looked for here, not only in the select below: when several of
		// its cases are ready the select picks one at random, and a change it passed
		// over would be lost with its channel, leaving confirmed stale until the next.
		select {
		case <-changed:
			changed = w.cfg.Service.AnchorChanges() // taken before the size is read
			confirmed = -1
		default:
		}
		var err error
		if confirmed < 0 {
			// Asked only when the anchors change: it is a bisection of the log.
			if confirmed, err = w.cfg.Service.ConfirmedSize(ctx); err != nil {
				confirmed = -1
			}
		}
		if confirmed > 0 {
			err = w.deliverDue(ctx, confirmed)
		}
		if err != nil && ctx.Err() == nil {
			w.cfg.Logger.Warn("webhooks: delivering", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed: // handled at the top of the loop
		case <-w.kick:
		case <-t.C:
		}
	}
}

type dueWebhook struct {
	id, entry int64
	url       string
	attempts  int
}

// deliverDue attempts every webhook due now whose entry is below confirmed.
func (w *Webhooks) deliverDue(ctx context.Context, confirmed int64) error {
	for ctx.Err() == nil {
		var due []dueWebhook
		err := w.store.DueWebhooks(ctx, confirmed, w.cfg.Now(), webhookPage, func(id, entry int64, url string, attempts int) error {
			due = append(due, dueWebhook{id, entry, url, attempts})
			return nil
		})
		if err != nil || len(due) == 0 {
			return err
		}
		var (
			wg       sync.WaitGroup
			jobs     = make(chan dueWebhook)
			mu       sync.Mutex
			progress bool
		)
		for range min(w.cfg.Workers, len(due)) {
			wg.Go(func() {
				for d := range jobs {
					if w.attempt(ctx, d) {
						mu.Lock()
						progress = true
						mu.Unlock()
					}
				}
			})
		}
		for _, d := range due {
			jobs <- d
		}
		close(jobs)
		wg.Wait()
		if !progress || len(due) < webhookPage {
			return nil
		}
	}
	return nil
}

// attempt makes one delivery attempt of d and records its outcome. It reports false if it
// did not attempt: the entry is no longer confirmed (its anchor was reorganized out), or
// the service is stopping.
func (w *Webhooks) attempt(ctx context.Context, d dueWebhook) bool {
	ts, err := w.cfg.Service.TimestampAt(ctx, d.entry)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		w.cfg.Logger.Error("webhooks: reading the timestamp", "entry", d.entry, "err", err)
		return w.failed(ctx, d, "the service could not read the entry")
	}
	if ts.Status != service.StatusConfirmed {
		return false
	}
	v, err := timestampJSON(ts)
	if err != nil {
		return w.failed(ctx, d, "the service could not encode the timestamp")
	}
	reason := w.post(ctx, d, v.appendJSON(nil))
	if ctx.Err() != nil {
		return false // stopping: not the receiver's failure
	}
	if reason != "" {
		return w.failed(ctx, d, reason)
	}
	if err := w.store.WebhookDelivered(ctx, d.id, w.cfg.Now()); err != nil {
		w.cfg.Logger.Error("webhooks: recording a delivery", "id", d.id, "err", err)
		return false
	}
	w.attempts.WithLabelValues("delivered").Inc()
	return true
}

// post sends one attempt and returns why it failed, "" if the receiver accepted it.
func (w *Webhooks) post(ctx context.Context, d dueWebhook, body []byte) string {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "notary-webhook/1")
	req.Header.Set(notary.WebhookSignatureHeader, notary.SignWebhook(w.cfg.Key, body, w.cfg.Now()))
	req.Header.Set("Notary-Webhook-Id", strconv.FormatInt(d.id, 10))
	req.Header.Set("Notary-Webhook-Attempt", strconv.Itoa(d.attempts+1))
	resp, err := w.client.Do(req)
	if err != nil {
		return err.Error()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "the receiver answered " + resp.Status
	}
	return ""
}

// failed records a failed attempt: the next is due after the backoff, or never after
// MaxAttempts attempts.
func (w *Webhooks) failed(ctx context.Context, d dueWebhook, reason string) bool {
	n := d.attempts + 1
	giveUp := n >= w.cfg.MaxAttempts
	next := w.cfg.Now().Add(w.backoff(n))
	if err := w.store.WebhookFailed(ctx, d.id, reason, next, giveUp); err != nil {
		w.cfg.Logger.Error("webhooks: recording a failure", "id", d.id, "err", err)
		return false
	}
	w.attempts.WithLabelValues("failed").Inc()
	if giveUp {
		w.cfg.Logger.Warn("webhooks: giving up", "id", d.id, "entry", d.entry, "url", d.url, "attempts", n, "reason", reason)
	}
	return true
}

// backoff returns the wait after the n-th failed attempt: Backoff·2^(n-1), at most MaxBackoff.
func (w *Webhooks) backoff(n int) time.Duration {
	b := w.cfg.Backoff
	for i := 1; i < n && b < w.cfg.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, w.cfg.MaxBackoff)
}

// dialPublicOnly refuses connections to addresses that are not public, after the host
// name is resolved: a callback cannot reach the service's own network.
func dialPublicOnly(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if !publicAddr(ip) {
		return fmt.Errorf("the callback address %s is not public", ip)
	}
	return nil
}
