package api

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/notary-dev/notary/calendar"
	"github.com/notary-dev/notary/service"
	"golang.org/x/time/rate"
)

// KeyStore finds API keys by the SHA-256 of their token. store.DB implements it.
type KeyStore interface {
	// APIKeyByHash returns the name and callback URL of the key whose token has the
	// given SHA-256, and whether it is revoked; an unknown hash gives an error wrapping
	// service.ErrNotFound.
	APIKeyByHash(ctx context.Context, tokenHash [32]byte) (name, webhook string, revoked bool, err error)
}

// Limits are the request rates the API allows. Every request to /v1 and to the calendar
// counts one; /healthz, /readyz, /metrics, /v1/openapi.json and the pages are not limited.
type Limits struct {
	// Anonymous limits the requests without an API key of each client address (an IPv4
	// address, or an IPv6 /64 network), and, in a bucket of their own, its requests with
	// tokens that name no valid key.
	Anonymous Rate
	// Key limits the requests of each API key.
	Key Rate
	// AnonymousDigests limits the digests that each client address submits without an
	// API key, whatever the requests that carry them: one for a single submission, n for
	// a batch of n. A batch of more than its Burst is refused. It bounds what one address
	// can make the log store, which the request rate alone does not: a batch carries up
	// to MaxBatchDigests digests.
	AnonymousDigests Rate
	// KeyDigestsPerDay, if not zero, is each API key's quota of digests: that many in 24
	// hours, refilled continuously, and at most that many at once.
	KeyDigestsPerDay int
	// Batches bounds the batch submissions in progress at once, from reading their body
	// to writing the last byte of their answer, and BatchesPerClient those of one API
	// key, or one client address without a key: a client that sends or reads a batch
	// slowly holds its memory as long as it does. 0 for no limit.
	Batches, BatchesPerClient int
	// WebhooksPerKey bounds the pending webhooks (registered, not yet delivered nor given
	// up) of each API key, and WebhooksPerAddress those of each client address without a
	// key: past it a submission with a callback is refused, 429 too_many_webhooks, before
	// anything is logged. 0 for no limit.
	WebhooksPerKey, WebhooksPerAddress int
}

// Rate is a token bucket: PerSecond requests a second on average, up to Burst at once.
// A zero PerSecond means no limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// keyCacheTTL is how long a token's lookup is trusted: a new or revoked key takes effect
// within it.
const keyCacheTTL = 5 * time.Second

// Bounds of the in-memory tables, so that a flood of addresses or tokens cannot exhaust
// memory. A full table of limiters forgets first the buckets that are full (a new one
// starts full: forgetting them changes nothing) or idle for limiterIdle, then the fullest
// of the others, down to nine tenths of maxLimiters: a client that has used up its
// allowance is forgotten last, so that a flood of new addresses does not give it a fresh
// one. The key cache holds the tokens of stored keys (which the operator creates) apart
// from tokens of no key (which anyone can make up): a full table of the first loses a
// random entry, of the second a random one of its own, so that a flood of made-up tokens
// never evicts a valid key.
const (
	maxLimiters      = 100_000
	maxKeyCache      = 10_000
	maxUnknownTokens = 10_000
)

// limiterIdle is how long a client's limiter is kept after its last request.
const limiterIdle = 10 * time.Minute

// caller is the API key a request was made with.
type caller struct {
	name    string
	webhook string
}

const callerKey = "notary.caller"

// callerOf returns the API key of the request, nil if it was made without one.
func callerOf(c echo.Context) *caller {
	k, _ := c.Get(callerKey).(*caller)
	return k
}

// access authenticates API keys and enforces the rate limits.
type access struct {
	keys    KeyStore
	limits  Limits
	metrics *metrics
	now     func() time.Time

	mu         sync.Mutex
	limiters   map[string]*limiterEntry // "ip:…", "key:…" or "bad:…" (refused tokens, by address)
	limiterCap int                      // maxLimiters, but in tests
	lastSweep  time.Time
	known      map[[32]byte]cachedKey // tokens of stored keys, valid or revoked
	unknown    map[[32]byte]time.Time // tokens of no key, and until when that is trusted
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

type cachedKey struct {
	caller  *caller
	revoked bool
	until   time.Time // when to look the key up again
}

func newAccess(keys KeyStore, limits Limits, m *metrics) *access {
	return &access{
		keys: keys, limits: limits, metrics: m, now: time.Now,
		limiters: make(map[string]*limiterEntry), limiterCap: maxLimiters,
		known:   make(map[[32]byte]cachedKey),
		unknown: make(map[[32]byte]time.Time),
	}
}

// limited reports whether requests to the route are authenticated and rate limited.
func limited(c echo.Context) bool {
	switch c.Path() {
	case "/healthz", "/readyz", "/metrics", "/v1/openapi.json":
		return false
	case calendar.SubmitPath, calendar.TimestampPath:
		return true
	}
	path := c.Request().URL.Path
	return strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/log/")
}

// middleware authenticates the request's API key, if any, and applies the rate limit of
// the key, or of the client's address without one.
func (a *access) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !limited(c) || c.Request().Method == http.MethodOptions {
			return next(c)
		}
		network := clientNetwork(c.RealIP())
		k, err := a.authenticate(c, network)
		if err != nil {
			return err
		}
		r, id, who := a.limits.Anonymous, "ip:"+network, "anonymous"
		if k != nil {
			c.Set(callerKey, k)
			r, id, who = a.limits.Key, "key:"+k.name, "key"
		}
		if wait, _ := a.reserve(id, r); wait > 0 {
			secs := a.limited(c, who, wait)
			if k != nil {
				return apiError(codeRateLimited, "too many requests with API key %q; try again in %d s", k.name, secs)
			}
			return apiError(codeRateLimited, "too many requests from this address; try again in %d s, or use an API key", secs)
		}
		return next(c)
	}
}

// digests takes n digests from the budget of the request's submitter: its API key's
// daily quota, or its address's digest budget without a key. It returns a func that gives
// them back (see giveBackIf), or the error to answer: 400
// too_many_digests for more than the budget ever allows at once, 429 rate_limited with
// Retry-After while it refills.
func (a *access) digests(c echo.Context, n int) (func(), error) {
	k := callerOf(c)
	r, id, who := a.limits.AnonymousDigests, "digests-ip:"+clientNetwork(c.RealIP()), "anonymous_digests"
	if k != nil {
		r, id, who = Rate{}, "digests-key:"+k.name, "key_digests"
		if q := a.limits.KeyDigestsPerDay; q > 0 {
			r = Rate{PerSecond: float64(q) / (24 * 60 * 60), Burst: q}
		}
	}
	if r.PerSecond <= 0 {
		return func() {}, nil
	}
	burst := max(r.Burst, 1)
	if n > burst {
		if k != nil {
			return nil, apiError(codeTooManyDigests, "the API key %q may submit %d digests a day; this batch has %d", k.name, burst, n)
		}
		return nil, apiError(codeTooManyDigests, "without an API key, a batch may have at most %d digests; this one has %d", burst, n)
	}
	wait, refund := a.reserveN(id, r, n)
	if wait <= 0 {
		return refund, nil
	}
	secs := a.limited(c, who, wait)
	if k != nil {
		return nil, apiError(codeRateLimited, "the API key %q has used its quota of %d digests a day; %d more digests in %d s", k.name, burst, n, secs)
	}
	return nil, apiError(codeRateLimited, "this address has submitted its share of digests without an API key (%d at once, then %g a second); %d more in %d s, or use an API key",
		burst, r.PerSecond, n, secs)
}

// giveBackIf gives the digests of a failed submission back to its budget if the error
// says nothing was logged. A client that hangs up gets nothing back: its digests may be
// logged all the same.
func giveBackIf(err error, refund func()) {
	if errors.Is(err, service.ErrPushback) || errors.Is(err, service.ErrNotWriter) {
		refund()
	}
}

// limited counts a request refused by a rate limit, sets Retry-After and returns its
// seconds.
func (a *access) limited(c echo.Context, who string, wait time.Duration) int64 {
	a.metrics.limited.WithLabelValues(who).Inc()
	secs := int64(math.Ceil(wait.Seconds()))
	c.Response().Header().Set(echo.HeaderRetryAfter, strconv.FormatInt(secs, 10))
	return secs
}

// authenticate returns the API key of the request's bearer token, nil without one.
//
// Tokens that name no valid key are refused, and each refusal counts against a budget of
// the client's network (network): the anonymous rate, in a bucket of its own. A token not
// known yet is looked up in the key store only if that budget allows one more refusal, so
// that made-up tokens cost the store no more lookups than the anonymous rate; past it they
// are answered 429. A valid key's lookup is not counted, and a key once found is looked up
// again (for revocation) without counting, so a valid key is never refused for the
// refusals of others at its address.
func (a *access) authenticate(c echo.Context, network string) (*caller, error) {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	if h == "" {
		return nil, nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, refuseToken(c, "send the API key as \"Authorization: Bearer TOKEN\"")
	}
	if a.keys == nil {
		return nil, refuseToken(c, "this server has no API keys; send no Authorization header")
	}
	sum := sha256.Sum256([]byte(token))
	budget := "bad:" + network
	now := a.now()
	a.mu.Lock()
	ck, known := a.known[sum]
	unknownUntil, unknown := a.unknown[sum]
	a.mu.Unlock()

	var refund func()
	switch {
	case known && now.Before(ck.until):
	case unknown && now.Before(unknownUntil):
		return nil, a.refuse(c, budget, nil, "unknown API key")
	default:
		if !known {
			// Never found: the lookup may be a refusal, and needs the budget for one.
			wait, giveBack := a.reserve(budget, a.limits.Anonymous)
			if wait > 0 {
				return nil, a.tooManyRefusals(c, wait)
			}
			refund = giveBack
		}
		name, webhook, revoked, err := a.keys.APIKeyByHash(c.Request().Context(), sum)
		switch {
		case errors.Is(err, service.ErrNotFound):
			a.remember(sum, nil, now)
			return nil, a.refuse(c, budget, refund, "unknown API key")
		case err != nil:
			if refund != nil {
				refund()
			}
			return nil, err
		}
		ck = cachedKey{caller: &caller{name: name, webhook: webhook}, revoked: revoked, until: now.Add(keyCacheTTL)}
		a.remember(sum, &ck, now)
	}
	if ck.revoked {
		return nil, a.refuse(c, budget, refund, "the API key %q is revoked", ck.caller.name)
	}
	if refund != nil {
		refund()
	}
	return ck.caller, nil
}

// refuse answers 401 for a token that names no valid key, counting the refusal in the
// budget of the client's network: taken is the refusal reserved before the lookup, if
// any. Past the budget the answer is 429.
func (a *access) refuse(c echo.Context, budget string, taken func(), format string, args ...any) error {
	if taken == nil {
		if wait, _ := a.reserve(budget, a.limits.Anonymous); wait > 0 {
			return a.tooManyRefusals(c, wait)
		}
	}
	return refuseToken(c, format, args...)
}

func (a *access) tooManyRefusals(c echo.Context, wait time.Duration) error {
	secs := a.limited(c, "bad_key", wait)
	return apiError(codeRateLimited, "too many requests with unknown or revoked API keys from this address; try again in %d s", secs)
}

// refuseToken is the 401 of a bad Authorization header.
func refuseToken(c echo.Context, format string, args ...any) error {
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="notary", error="invalid_token"`)
	return apiError(codeBadAPIKey, format, args...)
}

// remember caches what the lookup of a token found: ck, or no key if ck is nil. Each
// table is bounded; a full one loses an entry of its own, picked at random (Go's map
// order), so made-up tokens never evict stored keys.
func (a *access) remember(sum [32]byte, ck *cachedKey, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ck == nil {
		delete(a.known, sum)
		evictOne(a.unknown, maxUnknownTokens)
		a.unknown[sum] = now.Add(keyCacheTTL)
		return
	}
	delete(a.unknown, sum)
	if _, ok := a.known[sum]; !ok {
		evictOne(a.known, maxKeyCache)
	}
	a.known[sum] = *ck
}

// evictOne deletes an entry of m, any, if it has limit entries or more.
func evictOne[V any](m map[[32]byte]V, limit int) {
	if len(m) < limit {
		return
	}
	for k := range m {
		delete(m, k)
		return
	}
}

// sweep forgets the limiters that are idle or full and, if the table is still full, the
// fullest of the others (by the share of their burst they hold) until it is nine tenths
// full. The caller holds a.mu.
func (a *access) sweep(now time.Time) {
	a.lastSweep = now
	for k, e := range a.limiters {
		if now.Sub(e.seen) > limiterIdle || e.lim.TokensAt(now) >= float64(e.lim.Burst()) {
			delete(a.limiters, k)
		}
	}
	if len(a.limiters) < a.limiterCap {
		return
	}
	type filled struct {
		id   string
		fill float64
	}
	list := make([]filled, 0, len(a.limiters))
	for k, e := range a.limiters {
		list = append(list, filled{k, e.lim.TokensAt(now) / float64(e.lim.Burst())})
	}
	slices.SortFunc(list, func(x, y filled) int { return cmp.Compare(y.fill, x.fill) }) // fullest first
	for _, f := range list[:len(list)-a.limiterCap*9/10] {
		delete(a.limiters, f.id)
	}
}

// reserve takes one request from the bucket of id and returns 0 and a func that gives it
// back, or, if the bucket is empty, takes nothing and returns how long until it would
// allow one.
func (a *access) reserve(id string, r Rate) (time.Duration, func()) { return a.reserveN(id, r, 1) }

// reserveN is reserve of n at once; n must not exceed r's burst.
func (a *access) reserveN(id string, r Rate, n int) (time.Duration, func()) {
	if r.PerSecond <= 0 {
		return 0, func() {}
	}
	now := a.now()
	a.mu.Lock()
	if now.Sub(a.lastSweep) > time.Minute || len(a.limiters) >= a.limiterCap {
		a.sweep(now)
	}
	e := a.limiters[id]
	if e == nil {
		e = &limiterEntry{lim: rate.NewLimiter(rate.Limit(r.PerSecond), max(r.Burst, 1))}
		a.limiters[id] = e
	}
	e.seen = now
	a.mu.Unlock()

	res := e.lim.ReserveN(now, n)
	if !res.OK() {
		return time.Duration(float64(n) * float64(time.Second) / r.PerSecond), nil
	}
	if wait := res.DelayFrom(now); wait > 0 {
		res.CancelAt(now)
		return wait, nil
	}
	// Cancelled at the time it was made, the reservation gives back its token less the
	// refill since, which Limiter counts again from then: exactly as if never taken.
	return 0, func() { res.CancelAt(now) }
}

// clientNetwork returns what an anonymous client is limited by: its IPv4 address, or the
// /64 network of its IPv6 address (one subscriber's usual allocation).
func clientNetwork(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// ipExtractor returns how the client's address is found: the connection's peer, or,
// behind trusted reverse proxies, the address they put in X-Forwarded-For.
func ipExtractor(proxies []*net.IPNet) echo.IPExtractor {
	if len(proxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range proxies {
		opts = append(opts, echo.TrustIPRange(p))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// cors lets pages of any origin call the API: no cookies are used (an API key travels
// in the Authorization header, which a page must set itself), so no origin can act with
// a visitor's credentials. Every answer allows every origin, so that a shared cache never
// serves one without the header; preflight requests are answered here, before any key
// or rate limit.
func cors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req, h := c.Request(), c.Response().Header()
		h.Set(echo.HeaderAccessControlAllowOrigin, "*")
		if req.Method == http.MethodOptions && req.Header.Get(echo.HeaderOrigin) != "" &&
			req.Header.Get(echo.HeaderAccessControlRequestMethod) != "" {
			h.Set(echo.HeaderAccessControlAllowMethods, "GET, POST")
			h.Set(echo.HeaderAccessControlAllowHeaders, "Authorization, Content-Type, Accept")
			h.Set(echo.HeaderAccessControlMaxAge, "86400")
			return c.NoContent(http.StatusNoContent)
		}
		h.Set(echo.HeaderAccessControlExposeHeaders, "Retry-After, Content-Disposition, WWW-Authenticate")
		return next(c)
	}
}
