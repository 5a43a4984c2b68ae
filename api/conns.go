package api

import (
	"container/list"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// ConnLimits bound the connections a server holds open, so that clients that open
// connections and leave them idle cannot take every file descriptor of the process (after
// which accept fails, and every client waits).
type ConnLimits struct {
	// Max is the most connections open at once; 0 for no limit.
	Max int
	// PerClient is the most connections open at once from one client address (an IPv4
	// address, or an IPv6 /64 network); 0 for no limit.
	PerClient int
	// Exempt are the peers not limited per client: reverse proxies, through which every
	// client comes. They count towards Max.
	Exempt []*net.IPNet
}

// maxRefusing bounds the refused connections being answered at once; past it they are
// closed without an answer.
const maxRefusing = 64

// ConnListener is a listener that holds the connections of an http.Server to its
// ConnLimits. A connection past a limit first takes the place of one that is idle (waiting
// for a request, or for its first one): the client's own longest idle, when the client is
// at its limit, else the server's. Idle connections thus last while there is room, and
// give way under pressure. Only when none is idle is the new one refused: answered 503
// busy (the server is full) or 429 rate_limited (the client is), with Retry-After, and
// closed.
type ConnListener struct {
	net.Listener
	limits ConnLimits

	mu       sync.Mutex
	open     int
	clients  map[string]*connClient
	idle     list.List // of *limitedConn, longest idle first
	refusing chan struct{}
}

type connClient struct {
	open int
	idle list.List // of *limitedConn, longest idle first
}

// limitedConn is a connection the listener counts until it is closed.
type limitedConn struct {
	net.Conn
	l      *ConnListener
	client string // "" if exempt from the limit per client
	// Under l.mu:
	released     bool
	inIdle, inCl *list.Element // in l.idle and in its client's idle, while idle
}

// LimitConns returns ln held to limits for srv, whose ConnState it sets (calling the one
// set before, if any): srv must serve the listener returned.
func LimitConns(srv *http.Server, ln net.Listener, limits ConnLimits) *ConnListener {
	l := &ConnListener{
		Listener: ln, limits: limits,
		clients:  make(map[string]*connClient),
		refusing: make(chan struct{}, maxRefusing),
	}
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		l.connState(c, s)
		if prev != nil {
			prev(c, s)
		}
	}
	return l
}

// Open returns the number of connections open.
func (l *ConnListener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Accept returns the next connection within the limits, refusing the others.
func (l *ConnListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc, refusal := l.admit(c)
		if lc != nil {
			return lc, nil
		}
		select {
		case l.refusing <- struct{}{}:
			go func() {
				refuseConn(c, refusal)
				<-l.refusing
			}()
		default:
			c.Close()
		}
	}
}

// admit counts c in, making room by closing idle connections, or returns why it cannot.
func (l *ConnListener) admit(c net.Conn) (*limitedConn, *Error) {
	key := l.clientOf(c)
	var evicted []*limitedConn
	l.mu.Lock()
	cl := l.clients[key]
	if key != "" && l.limits.PerClient > 0 && cl != nil && cl.open >= l.limits.PerClient {
		e := cl.idle.Front()
		if e == nil {
			l.mu.Unlock()
			return nil, apiError(codeRateLimited, "this address has %d connections open, as many as it may; send requests on those", cl.open)
		}
		evicted = append(evicted, l.release(e.Value.(*limitedConn)))
	}
	if l.limits.Max > 0 && l.open >= l.limits.Max {
		e := l.idle.Front()
		if e == nil {
			l.mu.Unlock()
			for _, ev := range evicted {
				ev.Conn.Close()
			}
			return nil, apiError(codeBusy, "the server has as many connections open as it takes; try again in a second")
		}
		evicted = append(evicted, l.release(e.Value.(*limitedConn)))
	}
	lc := &limitedConn{Conn: c, l: l, client: key}
	l.open++
	if key != "" {
		if cl = l.clients[key]; cl == nil {
			cl = &connClient{}
			l.clients[key] = cl
		}
		cl.open++
	}
	l.mu.Unlock()
	for _, ev := range evicted {
		ev.Conn.Close() // its server goroutine sees the error and ends
	}
	return lc, nil
}

// clientOf returns the client that c counts against, "" if it is exempt.
func (l *ConnListener) clientOf(c net.Conn) string {
	if l.limits.PerClient <= 0 {
		return ""
	}
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil {
		for _, n := range l.limits.Exempt {
			if n.Contains(ip) {
				return ""
			}
		}
	}
	return clientNetwork(host)
}

// connState follows the server's connections: idle ones (new, or between requests) may
// give way to new connections; active ones are never cut.
func (l *ConnListener) connState(c net.Conn, s http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok || lc.l != l {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if lc.released {
		return
	}
	switch s {
	case http.StateNew, http.StateIdle:
		if lc.inIdle == nil {
			lc.inIdle = l.idle.PushBack(lc)
			if cl := l.clients[lc.client]; cl != nil {
				lc.inCl = cl.idle.PushBack(lc)
			}
		}
	case http.StateActive:
		l.notIdle(lc)
	case http.StateClosed, http.StateHijacked:
		l.release(lc)
	}
}

// notIdle takes lc out of the idle lists. l.mu is held.
func (l *ConnListener) notIdle(lc *limitedConn) {
	if lc.inIdle != nil {
		l.idle.Remove(lc.inIdle)
		lc.inIdle = nil
	}
	if lc.inCl != nil {
		if cl := l.clients[lc.client]; cl != nil {
			cl.idle.Remove(lc.inCl)
		}
		lc.inCl = nil
	}
}

// release stops counting lc, once, and returns it. l.mu is held.
func (l *ConnListener) release(lc *limitedConn) *limitedConn {
	if lc.released {
		return lc
	}
	lc.released = true
	l.notIdle(lc)
	l.open--
	if cl := l.clients[lc.client]; cl != nil {
		if cl.open--; cl.open == 0 {
			delete(l.clients, lc.client)
		}
	}
	return lc
}

// Close closes the connection and stops counting it.
func (c *limitedConn) Close() error {
	c.l.mu.Lock()
	c.l.release(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// refuseConn answers a connection refused by a limit with e, as HTTP, and closes it. The
// answer is written before the request is read, then what the client sends is read for
// a moment, so that closing does not reset the connection before the client reads it.
func refuseConn(c net.Conn, e *Error) {
	defer c.Close()
	body, _ := json.Marshal(errorBody{e})
	body = append(body, '\n')
	c.SetDeadline(time.Now().Add(time.Second))
	_, err := fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		e.Status, http.StatusText(e.Status), len(body), body)
	if err != nil {
		return
	}
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		hc.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}
