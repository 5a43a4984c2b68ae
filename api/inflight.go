package api

import (
	"sync"

	"github.com/labstack/echo/v4"
)

// inFlight counts the batch submissions in progress, from reading their body to writing
// their answer, in all and by client: each holds up to a few megabytes (its body, its
// digests, its items and a piece of its answer) for as long as its client takes to send
// and read, so their number is bounded rather than their speed.
type inFlight struct {
	max, perClient int

	mu       sync.Mutex
	n        int
	byClient map[string]int
}

func newInFlight(limit, perClient int) *inFlight {
	return &inFlight{max: limit, perClient: perClient, byClient: make(map[string]int)}
}

// acquire takes a slot for client, or returns the error to answer: 503 busy when every
// slot is taken, 429 rate_limited when the client's are, both with Retry-After: 1.
func (f *inFlight) acquire(c echo.Context, client string) (release func(), err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.perClient > 0 && f.byClient[client] >= f.perClient {
		c.Response().Header().Set(echo.HeaderRetryAfter, "1")
		return nil, apiError(codeRateLimited, "%d batches of this client are in progress, as many as it may have; wait for their answers", f.byClient[client])
	}
	if f.max > 0 && f.n >= f.max {
		c.Response().Header().Set(echo.HeaderRetryAfter, "1")
		return nil, apiError(codeBusy, "the service has as many batches in progress as it takes; nothing was logged, try again in a second")
	}
	f.n++
	f.byClient[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.n--
			if f.byClient[client]--; f.byClient[client] <= 0 {
				delete(f.byClient, client)
			}
		})
	}, nil
}

// inProgress returns the number of batches in progress.
func (f *inFlight) inProgress() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// batchClient returns who a batch submission counts against: its API key, or its
// client's address (an IPv4 address, or an IPv6 /64 network).
func batchClient(c echo.Context) string {
	if k := callerOf(c); k != nil {
		return "key:" + k.name
	}
	return "ip:" + clientNetwork(c.RealIP())
}
