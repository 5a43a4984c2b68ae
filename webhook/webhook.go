// Package webhook delivers callbacks: once the proofs of a request's entries are complete it
// POSTs their timestamps, signed with the webhook key, to the URL registered with the
// request, in one POST, and retries with exponential backoff. Each webhook has an owner (an
// API key or a client address): owners are served in turn, so that one owner's slow
// receiver or long queue does not delay another's. It dials only public addresses unless
// told otherwise.
package webhook

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
	"strconv"
	"sync/atomic"
	"time"

	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// Callback is one webhook as registered: the entries of one request, delivered in one POST.
type Callback struct {
	// Owner is who registered it, "key:NAME" or "ip:ADDRESS": owners are served in turn,
	// and each has its cap of pending webhooks.
	Owner string
	URL   string
	// Entries are the log indexes of the request's digests, in its order (at least one).
	Entries []int64
	// Batch makes the body {"timestamps": […]}, as for a batch of any size, rather than
	// the one timestamp of a single submission.
	Batch bool
}

// Due is a pending webhook whose proofs are complete and whose next attempt is due.
type Due struct {
	ID int64
	Callback
	Attempts int // attempts made so far
}

// Store keeps webhooks durably, so that a restart loses none. store.DB and postgres.DB
// implement it; webhook/storetest holds the contract.
type Store interface {
	// AddWebhook stores c, pending and due at now, and returns its ID, unless maxPending
	// is positive and c's owner has that many pending webhooks already: then it stores
	// nothing and added is false. (With several processes on one database, requests in
	// flight at once may each see the owner below its cap.)
	AddWebhook(ctx context.Context, c Callback, now time.Time, maxPending int) (id int64, added bool, err error)
	// PendingWebhooks returns the number of pending webhooks of owner.
	PendingWebhooks(ctx context.Context, owner string) (int64, error)
	// DueWebhooks calls fn for pending webhooks whose entries are all below confirmed and
	// whose next attempt is due by now: at most perOwner of each owner and at most limit
	// in all, every owner's first before any owner's second (and so on), each owner's in
	// order of due time. fn runs after the query has ended: it may take long, and write.
	DueWebhooks(ctx context.Context, confirmed int64, now time.Time, perOwner, limit int, fn func(Due) error) error
	// WebhookDelivered records a delivery of pending webhook id.
	WebhookDelivered(ctx context.Context, id int64, now time.Time) error
	// WebhookFailed records a failed attempt of pending webhook id, and why; the next is
	// due at next, unless giveUp, which marks it failed for good.
	WebhookFailed(ctx context.Context, id int64, reason string, next time.Time, giveUp bool) error
	// WebhookCounts returns the numbers of pending and failed webhooks.
	WebhookCounts(ctx context.Context) (pending, failed int64, err error)
	// WebhookState returns the state of webhook id ("pending", "delivered" or "failed"),
	// its attempts and its last error; ok is false if there is no such webhook.
	WebhookState(ctx context.Context, id int64) (state string, attempts int, lastErr string, ok bool, err error)
}

// Source is what delivery reads of the log: *service.Service implements it.
type Source interface {
	// AnchorChanges returns a channel closed at the next change of the anchors.
	AnchorChanges() <-chan struct{}
	// ConfirmedSize returns the number of entries whose proof is complete.
	ConfirmedSize(ctx context.Context) (int64, error)
	// TimestampAt returns the timestamp of the entry at index.
	TimestampAt(ctx context.Context, index int64) (*service.Timestamp, error)
}

// Config configures a Dispatcher. Service, Store, Key and Encode are required.
type Config struct {
	Service Source
	Store   Store
	// Encode returns the JSON of one timestamp in a delivery: what a lookup of the entry
	// answers (api.TimestampJSON).
	Encode func(*service.Timestamp) ([]byte, error)
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
	// Workers is how many attempts run at once (default 4), and PerOwner how many of
	// them one owner's webhooks may take (default 1): an owner whose receiver stalls
	// holds PerOwner workers, for Timeout at most each, and the others keep delivering.
	Workers, PerOwner int
	// Poll is how often due retries are looked for (default 1 s); new proofs and new
	// registrations are looked at as they come.
	Poll   time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// ErrOwnerFull is returned (wrapped) by Register when the callback's owner has as many
// pending webhooks as it may.
var ErrOwnerFull = errors.New("webhook: the owner has as many pending webhooks as it may")

// Dispatcher POSTs the timestamps of a webhook's entries (Config.Encode) to its URL once
// their proofs are complete (status confirmed), signed with the webhook key, and retries
// with exponential backoff until the receiver answers 2xx. Deliveries are at least once: a
// receiver tells repeats by the Notary-Webhook-Id header.
type Dispatcher struct {
	cfg       Config
	store     Store
	client    *http.Client
	kick      chan struct{}
	delivered atomic.Int64 // attempts the receiver accepted
	failed    atomic.Int64 // attempts that failed
}

// Defaults.
const (
	DefaultBackoff     = 30 * time.Second
	DefaultMaxBackoff  = time.Hour
	DefaultMaxAttempts = 16
	maxCallbackLen     = 2048
	// page bounds the webhooks read at once, and held in memory, and pageOwner those of
	// one owner among them.
	page      = 256
	pageOwner = 8
)

// New returns a dispatcher; Run delivers.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Service == nil || cfg.Store == nil || cfg.Encode == nil || len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("webhook: Config needs Service, Store, Encode and an Ed25519 Key")
	}
	cfg.Backoff = cmp.Or(cfg.Backoff, DefaultBackoff)
	cfg.MaxBackoff = cmp.Or(cfg.MaxBackoff, DefaultMaxBackoff)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.Timeout = cmp.Or(cfg.Timeout, 10*time.Second)
	cfg.Workers = cmp.Or(cfg.Workers, 4)
	cfg.PerOwner = cmp.Or(cfg.PerOwner, 1)
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
	return &Dispatcher{
		cfg: cfg, store: cfg.Store, kick: make(chan struct{}, 1),
		client: &http.Client{
			Transport: tr,
			Timeout:   cfg.Timeout,
			// A redirect is an answer, not a success: the callback URL is the one registered.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// PublicKey returns the key that verifies the webhooks' signatures.
func (w *Dispatcher) PublicKey() ed25519.PublicKey { return w.cfg.Key.Public().(ed25519.PublicKey) }

// Counts returns the numbers of pending and failed webhooks.
func (w *Dispatcher) Counts(ctx context.Context) (pending, failed int64, err error) {
	return w.store.WebhookCounts(ctx)
}

// Attempts returns the numbers of delivery attempts made since New, by result: accepted by
// the receiver, or failed.
func (w *Dispatcher) Attempts() (delivered, failed int64) {
	return w.delivered.Load(), w.failed.Load()
}

// CheckURL returns an error, in words for the client, unless u is an acceptable callback
// for this dispatcher (see the function CheckURL).
func (w *Dispatcher) CheckURL(u string) error { return CheckURL(u, w.cfg.AllowPrivate) }

// Pending returns the number of pending webhooks of owner.
func (w *Dispatcher) Pending(ctx context.Context, owner string) (int64, error) {
	return w.store.PendingWebhooks(ctx, owner)
}

// Register records c durably, to be delivered once the proofs of all its entries are
// complete (at once if they are), unless maxPending is positive and c's owner has that
// many pending webhooks: then it records nothing and returns an error wrapping ErrOwnerFull.
func (w *Dispatcher) Register(ctx context.Context, c Callback, maxPending int) error {
	if len(c.Entries) == 0 {
		return errors.New("webhook: a callback without entries")
	}
	_, added, err := w.store.AddWebhook(ctx, c, w.cfg.Now(), maxPending)
	if err != nil {
		return err
	}
	if !added {
		return fmt.Errorf("%w (%d)", ErrOwnerFull, maxPending)
	}
	w.wake()
	return nil
}

// wake has Run look for due webhooks.
func (w *Dispatcher) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run delivers webhooks until ctx is done, with Workers attempts at once: whenever the
// anchors change (a proof may have become complete), a callback is registered, a retry
// falls due, or an owner's queue in memory runs out. It returns once every attempt has.
func (w *Dispatcher) Run(ctx context.Context) error {
	q := newQueue(w.cfg.PerOwner)
	done := make(chan struct{})
	defer func() { <-done }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(done)
		w.work(ctx, q)
	}()

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
			err = w.refill(ctx, q, confirmed)
		}
		if err != nil && ctx.Err() == nil {
			w.cfg.Logger.Warn("webhooks: reading the due webhooks", "err", err)
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

// refill queues the due webhooks that are not queued or being attempted already, unless
// a page of them is in memory.
func (w *Dispatcher) refill(ctx context.Context, q *queue, confirmed int64) error {
	epoch, ok := q.startRefill(page)
	if !ok {
		return nil
	}
	defer q.endRefill(epoch)
	return w.store.DueWebhooks(ctx, confirmed, w.cfg.Now(), pageOwner, page, func(d Due) error {
		q.push(d)
		return nil
	})
}

// work runs Workers workers, each taking the next owner's webhook in turn, until ctx is done.
func (w *Dispatcher) work(ctx context.Context, q *queue) {
	stop := context.AfterFunc(ctx, q.close)
	defer stop()
	done := make(chan struct{})
	for range w.cfg.Workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				d, ok := q.take()
				if !ok {
					return
				}
				progress := w.attempt(ctx, d)
				if q.done(d) && progress {
					w.wake() // the owner's queue ran out: there may be more of its webhooks
				}
			}
		}()
	}
	for range w.cfg.Workers {
		<-done
	}
}

// attempt makes one delivery attempt of d and records its outcome. It reports false if it
// did not attempt: an entry is no longer confirmed (its anchor was reorganized out), or
// the service is stopping.
func (w *Dispatcher) attempt(ctx context.Context, d Due) bool {
	body, ok := w.body(ctx, d)
	if !ok {
		return false
	}
	if body == nil {
		return w.fail(ctx, d, "the service could not read or encode a timestamp")
	}
	reason := w.post(ctx, d, body)
	if ctx.Err() != nil {
		return false // stopping: not the receiver's failure
	}
	if reason != "" {
		return w.fail(ctx, d, reason)
	}
	if err := w.store.WebhookDelivered(ctx, d.ID, w.cfg.Now()); err != nil {
		w.cfg.Logger.Error("webhooks: recording a delivery", "id", d.ID, "err", err)
		return false
	}
	w.delivered.Add(1)
	return true
}

// body returns the body of d: the one timestamp of a single submission, or, for a batch,
// {"timestamps":[…]} with one per entry in the request's order. It returns nil, true if a
// timestamp could not be read or encoded, and false if an entry's proof is not complete
// or the service is stopping.
func (w *Dispatcher) body(ctx context.Context, d Due) ([]byte, bool) {
	var b []byte
	if d.Batch || len(d.Entries) != 1 {
		b = append(b, `{"timestamps":[`...)
	}
	for i, e := range d.Entries {
		ts, err := w.cfg.Service.TimestampAt(ctx, e)
		if err != nil {
			if ctx.Err() != nil {
				return nil, false
			}
			w.cfg.Logger.Error("webhooks: reading the timestamp", "entry", e, "err", err)
			return nil, true
		}
		if ts.Status != service.StatusConfirmed {
			return nil, false
		}
		v, err := w.cfg.Encode(ts)
		if err != nil {
			w.cfg.Logger.Error("webhooks: encoding the timestamp", "entry", e, "err", err)
			return nil, true
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	if d.Batch || len(d.Entries) != 1 {
		b = append(b, "]}"...)
	}
	return b, true
}

// post sends one attempt and returns why it failed, "" if the receiver accepted it.
func (w *Dispatcher) post(ctx context.Context, d Due, body []byte) string {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "notary-webhook/1")
	req.Header.Set(notary.WebhookSignatureHeader, notary.SignWebhook(w.cfg.Key, body, w.cfg.Now()))
	req.Header.Set("Notary-Webhook-Id", strconv.FormatInt(d.ID, 10))
	req.Header.Set("Notary-Webhook-Attempt", strconv.Itoa(d.Attempts+1))
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

// fail records a failed attempt: the next is due after the backoff, or never after
// MaxAttempts attempts.
func (w *Dispatcher) fail(ctx context.Context, d Due, reason string) bool {
	n := d.Attempts + 1
	giveUp := n >= w.cfg.MaxAttempts
	next := w.cfg.Now().Add(w.backoff(n))
	if err := w.store.WebhookFailed(ctx, d.ID, reason, next, giveUp); err != nil {
		w.cfg.Logger.Error("webhooks: recording a failure", "id", d.ID, "err", err)
		return false
	}
	w.failed.Add(1)
	if giveUp {
		w.cfg.Logger.Warn("webhooks: giving up", "id", d.ID, "entries", len(d.Entries), "url", d.URL, "attempts", n, "reason", reason)
	}
	return true
}

// backoff returns the wait after the n-th failed attempt: Backoff·2^(n-1), at most MaxBackoff.
func (w *Dispatcher) backoff(n int) time.Duration {
	b := w.cfg.Backoff
	for i := 1; i < n && b < w.cfg.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, w.cfg.MaxBackoff)
}
