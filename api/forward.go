package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/notary-dev/notary/calendar"
)

// Headers of a submission that a process of the log forwards to the one that writes it:
// the client's address, and an HMAC of it with the key the processes share, so that the
// writer counts the request against that client's rate limit and no one else can claim
// another address.
const (
	headerForwardedFor  = "Notary-Forwarded-For"
	headerForwardedAuth = "Notary-Forwarded-Auth"
)

// forwardMAC returns the HMAC that authenticates a forwarded client address.
func forwardMAC(key []byte, client string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("notary-forward/v1\n" + client))
	return hex.EncodeToString(m.Sum(nil))
}

// forwarded reports whether r was forwarded by a process that holds key.
func forwarded(r *http.Request, key []byte) bool {
	client, mac := r.Header.Get(headerForwardedFor), r.Header.Get(headerForwardedAuth)
	return len(key) > 0 && client != "" && net.ParseIP(client) != nil && hmac.Equal([]byte(mac), []byte(forwardMAC(key, client)))
}

// forwardedIP wraps ip: a request forwarded by a process that holds key names its client.
func forwardedIP(ip echo.IPExtractor, key []byte) echo.IPExtractor {
	if len(key) == 0 {
		return ip
	}
	return func(r *http.Request) string {
		if forwarded(r, key) {
			return r.Header.Get(headerForwardedFor)
		}
		return ip(r)
	}
}

// ForwardConfig configures Forward.
type ForwardConfig struct {
	// Writer returns the base URL of the process that writes the log now.
	Writer func(ctx context.Context) (string, error)
	// Key authenticates the client addresses forwarded (see Config.ForwardKey).
	Key []byte
	// TrustedProxies, as in Config, find the client's address.
	TrustedProxies []*net.IPNet
}

// isSubmission reports whether r logs digests: those requests only the writer can answer.
func isSubmission(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	switch r.URL.Path {
	case "/v1/timestamps", "/v1/timestamps/batch", calendar.SubmitPath, tsaPath:
		return true
	}
	return false
}

// Forward returns a handler for a process that follows the log another one writes: it
// sends submissions to the writer, with the client's address, and every other request to
// next. While no writer is known or it cannot be reached, a submission is answered 503
// not_writer (plain text on the calendar's /digest, a TimeStampResp rejection on /tsa) with Retry-After: nothing was logged.
// If the writer took the submission but its answer was lost, it is answered 502
// outcome_unknown: the digests may be logged, and submitting them again is safe.
func Forward(next http.Handler, cfg ForwardConfig) http.Handler {
	ip := ipExtractor(cfg.TrustedProxies)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256
	// Under the writer's cap of connections per client address (ConnLimits.PerClient,
	// 128 by default), which it applies to this process as to any client: past it
	// submissions wait here for a connection rather than be refused there.
	transport.MaxConnsPerHost = 64
	transport.ResponseHeaderTimeout = MaxWait + 30*time.Second
	refuse := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		if r.URL.Path == tsaPath {
			writeReject(w, http.StatusServiceUnavailable, "no process writes the log right now; nothing was logged, try again shortly")
			return
		}
		if r.URL.Path == calendar.SubmitPath {
			w.Header().Set("Content-Type", calendar.MIMEText)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("no process writes the log right now; nothing was logged, try again shortly"))
			return
		}
		writeError(w, apiError(codeNotWriter, "no process writes the log right now, or it cannot be reached; nothing was logged, submit again"))
	}
	proxy := &httputil.ReverseProxy{
		Transport:  transport,
		BufferPool: copyBuffers{},
		Rewrite: func(pr *httputil.ProxyRequest) {
			target := pr.In.Context().Value(writerURL{}).(*url.URL)
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the writer names itself in proofs; keep what the client asked
			client := ip(pr.In)
			pr.Out.Header.Set(headerForwardedFor, client)
			pr.Out.Header.Set(headerForwardedAuth, forwardMAC(cfg.Key, client))
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return // the client hung up
			}
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				refuse(w, r) // the request never reached the writer
				return
			}
			// The writer may have logged the digests before its answer was lost.
			w.Header().Set("Retry-After", "1")
			if r.URL.Path == tsaPath {
				writeReject(w, http.StatusBadGateway, "the writer's answer was lost; the imprint may be logged: ask again, which is safe")
				return
			}
			if r.URL.Path == calendar.SubmitPath {
				w.Header().Set("Content-Type", calendar.MIMEText)
				w.WriteHeader(http.StatusBadGateway)
				w.Write([]byte("the writer's answer was lost; the digest may be logged: submit it again, which is safe"))
				return
			}
			writeError(w, apiError(codeOutcomeUnknown, "the process that writes the log took the submission but its answer was lost: "+
				"the digests may be logged; submit them again, which returns their entries if they are"))
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isSubmission(r) {
			next.ServeHTTP(w, r)
			return
		}
		if forwarded(r, cfg.Key) {
			// Another process took this for the writer: never forward twice.
			refuse(w, r)
			return
		}
		base, err := cfg.Writer(r.Context())
		if err != nil {
			refuse(w, r)
			return
		}
		u, err := url.Parse(base)
		if err != nil {
			refuse(w, r)
			return
		}
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), writerURL{}, u)))
	})
}

// copyBuffers lends the proxy the buffers it copies answers through, which it would
// otherwise allocate, 32 KiB each, for every submission it forwards.
type copyBuffers struct{}

var copyBufferPool = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func (copyBuffers) Get() []byte  { return copyBufferPool.Get().(*[32 << 10]byte)[:] }
func (copyBuffers) Put(b []byte) { copyBufferPool.Put((*[32 << 10]byte)(b)) }

// writerURL is the context key of the writer's URL, for the proxy's Rewrite.
type writerURL struct{}
