package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
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
	// address, or an IPv6 /64 network).
	Anonymous Rate
	// Key limits the requests of each API key.
	Key Rate
}

// Rate is a token bucket: PerSecond requests a second on average, up to Burst at once.
// A zero PerSecond means no limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// keyCacheTTL is how long a token's lookup is remembered: a new or revoked key takes
// effect within it.
const keyCacheTTL = 5 * time.Second

// Bounds of the in-memory tables, so that a flood of addresses or tokens cannot exhaust
// memory: beyond them the tables start afresh.
const (
	maxLimiters = 100_000
	maxKeyCache = 10_000
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

	mu        sync.Mutex
	limiters  map[string]*limiterEntry // "ip:…" or "key:…"
	lastSweep time.Time
	cache     map[[32]byte]cachedKey
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

type cachedKey struct {
	caller  *caller // nil: unknown
	revoked bool
	until   time.Time
}

func newAccess(keys KeyStore, limits Limits, m *metrics) *access {
	return &access{
		keys: keys, limits: limits, metrics: m, now: time.Now,
		limiters: make(map[string]*limiterEntry),
		cache:    make(map[[32]byte]cachedKey),
	}
}

// limited reports whether requests to the route are authenticated and rate limited.
func limited(c echo.Context) bool {
	switch c.Path() {
	case "/healthz", "/readyz", "/metrics", "/v1/openapi.json":
		return false
	case "/digest", "/timestamp/:commitment":
		return true
	}
	return strings.HasPrefix(c.Request().URL.Path, "/v1/")
}

// middleware authenticates the request's API key, if any, and applies the rate limit of
// the key, or of the client's address without one.
func (a *access) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !limited(c) || c.Request().Method == http.MethodOptions {
			return next(c)
		}
		k, err := a.authenticate(c)
		if err != nil {
			return err
		}
		r, id, who := a.limits.Anonymous, "ip:"+clientNetwork(c.RealIP()), "anonymous"
		if k != nil {
			c.Set(callerKey, k)
			r, id, who = a.limits.Key, "key:"+k.name, "key"
		}
		if wait := a.reserve(id, r); wait > 0 {
			a.metrics.limited.add(who, 1)
			secs := int64(math.Ceil(wait.Seconds()))
			c.Response().Header().Set(echo.HeaderRetryAfter, strconv.FormatInt(secs, 10))
			if k != nil {
				return apiError(codeRateLimited, "too many requests with API key %q; try again in %d s", k.name, secs)
			}
			return apiError(codeRateLimited, "too many requests from this address; try again in %d s, or use an API key", secs)
		}
		return next(c)
	}
}

// authenticate returns the API key of the request's bearer token, nil without one.
func (a *access) authenticate(c echo.Context) (*caller, error) {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	if h == "" {
		return nil, nil
	}
	refuse := func(format string, args ...any) error {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="notary", error="invalid_token"`)
		return apiError(codeBadAPIKey, format, args...)
	}
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, refuse("send the API key as \"Authorization: Bearer TOKEN\"")
	}
	if a.keys == nil {
		return nil, refuse("this server has no API keys; send no Authorization header")
	}
	sum := sha256.Sum256([]byte(token))
	now := a.now()
	a.mu.Lock()
	ck, cached := a.cache[sum]
	a.mu.Unlock()
	if !cached || now.After(ck.until) {
		name, webhook, revoked, err := a.keys.APIKeyByHash(c.Request().Context(), sum)
		switch {
		case errors.Is(err, service.ErrNotFound):
			ck = cachedKey{}
		case err != nil:
			return nil, err
		default:
			ck = cachedKey{caller: &caller{name: name, webhook: webhook}, revoked: revoked}
		}
		ck.until = now.Add(keyCacheTTL)
		a.mu.Lock()
		if len(a.cache) >= maxKeyCache {
			clear(a.cache)
		}
		a.cache[sum] = ck
		a.mu.Unlock()
	}
	switch {
	case ck.caller == nil:
		return nil, refuse("unknown API key")
	case ck.revoked:
		return nil, refuse("the API key %q is revoked", ck.caller.name)
	}
	return ck.caller, nil
}

// reserve takes one request from the bucket of id and returns 0, or, if the bucket is
// empty, takes nothing and returns how long until it would allow one.
func (a *access) reserve(id string, r Rate) time.Duration {
	if r.PerSecond <= 0 {
		return 0
	}
	now := a.now()
	a.mu.Lock()
	if now.Sub(a.lastSweep) > time.Minute || len(a.limiters) >= maxLimiters {
		for k, e := range a.limiters {
			if now.Sub(e.seen) > limiterIdle {
				delete(a.limiters, k)
			}
		}
		if len(a.limiters) >= maxLimiters {
			clear(a.limiters)
		}
		a.lastSweep = now
	}
	e := a.limiters[id]
	if e == nil {
		e = &limiterEntry{lim: rate.NewLimiter(rate.Limit(r.PerSecond), max(r.Burst, 1))}
		a.limiters[id] = e
	}
	e.seen = now
	a.mu.Unlock()

	res := e.lim.ReserveN(now, 1)
	if !res.OK() {
		return time.Duration(float64(time.Second) / r.PerSecond)
	}
	wait := res.DelayFrom(now)
	if wait > 0 {
		res.CancelAt(now)
	}
	return wait
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
