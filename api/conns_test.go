package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
)

// connServer serves h on loopback through a ConnListener of limits.
func connServer(t *testing.T, limits api.ConnLimits, h http.Handler) (string, *api.ConnListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute, IdleTimeout: time.Hour}
	l := api.LimitConns(srv, ln, limits)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	return ln.Addr().String(), l
}

// rawConn is one connection, from a given loopback address, that sends requests in turn.
type rawConn struct {
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr, from string) *rawConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{conn: c, r: bufio.NewReader(c)}
}

// get sends GET path and reads the answer, or returns the error of the connection.
func (c *rawConn) get(path string) (reply, error) {
	if _, err := fmt.Fprintf(c.conn, "GET %s HTTP/1.1\r\nHost: notary.test\r\n\r\n", path); err != nil {
		return reply{}, err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: body}, err
}

func (c *rawConn) mustGet(t *testing.T, path string) reply {
	t.Helper()
	r, err := c.get(path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

// waitIdle waits until the listener counts n idle connections.
func waitIdle(t *testing.T, l *api.ConnListener, n int) {
	t.Helper()
	for deadline := time.Now().Add(patience); l.IdleConns() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle connections, want %d", l.IdleConns(), n)
		}
	}
}

// blocker is a handler that holds its requests until released, and says when each
// has come in.
type blocker struct {
	in      chan struct{}
	release chan struct{}
	once    sync.Once
}

func newBlocker(t *testing.T) *blocker {
	b := &blocker{in: make(chan struct{}, 1000), release: make(chan struct{})}
	t.Cleanup(b.done)
	return b
}

func (b *blocker) done() { b.once.Do(func() { close(b.release) }) }

func (b *blocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/block" {
		b.in <- struct{}{}
		<-b.release
	}
	io.WriteString(w, "ok")
}

// TestConnsIdleGiveWay holds 100 clients that each leave a connection idle, and 10 that
// never send a request, to 10 connections: each new one takes the place of the longest
// idle, so the server never holds more than 10 and every new client is served.
func TestConnsIdleGiveWay(t *testing.T) {
	addr, l := connServer(t, api.ConnLimits{Max: 10}, newBlocker(t))
	var clients []*rawConn
	for i := range 100 {
		c := dial(t, addr, "127.0.0.1")
		if r := c.mustGet(t, "/"); r.status != 200 {
			t.Fatalf("client %d: status %d", i, r.status)
		}
		clients = append(clients, c)
		if n := l.Open(); n > 10 {
			t.Fatalf("%d connections open, more than 10", n)
		}
		waitIdle(t, l, min(i+1, 10))
	}
	// The first ones gave way: their connections are closed.
	if _, err := clients[0].get("/"); err == nil {
		t.Error("the longest idle connection is still served")
	}
	// Connections that never send a request are idle too.
	for range 10 {
		dial(t, addr, "127.0.0.1")
	}
	c := dial(t, addr, "127.0.0.1")
	if r := c.mustGet(t, "/"); r.status != 200 {
		t.Errorf("a new client after 10 silent connections: status %d", r.status)
	}
	if n := l.Open(); n > 10 {
		t.Errorf("%d connections open, more than 10", n)
	}
}

// TestConnsFull fills the server with requests in progress, which are never cut: a new
// connection is answered 503 busy at once, with Retry-After, and closed.
func TestConnsFull(t *testing.T) {
	b := newBlocker(t)
	addr, l := connServer(t, api.ConnLimits{Max: 5}, b)
	var wg sync.WaitGroup
	for range 5 {
		c := dial(t, addr, "127.0.0.1")
		wg.Go(func() { c.get("/block") })
		<-b.in
	}
	for range 20 {
		r := dial(t, addr, "127.0.0.1").mustGet(t, "/")
		wantError(t, r, http.StatusServiceUnavailable, "busy")
		if r.header.Get("Retry-After") != "1" {
			t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	if n := l.Open(); n != 5 {
		t.Errorf("%d connections open, want the 5 in progress", n)
	}
	b.done()
	wg.Wait()
	if r := dial(t, addr, "127.0.0.1").mustGet(t, "/"); r.status != 200 {
		t.Errorf("once the requests are done: status %d", r.status)
	}
}

// TestConnsPerClient holds one client address to its connections: past them its own idle
// ones give way, and with none idle it is answered 429; other addresses, and exempt
// ones (a reverse proxy), are not held to it.
func TestConnsPerClient(t *testing.T) {
	b := newBlocker(t)
	addr, l := connServer(t, api.ConnLimits{Max: 100, PerClient: 3}, b)

	// Idle connections of the client give way to its new ones.
	var idle []*rawConn
	for range 3 {
		c := dial(t, addr, "127.0.0.1")
		c.mustGet(t, "/")
		idle = append(idle, c)
	}
	waitIdle(t, l, 3)
	other := dial(t, addr, "127.0.0.2")
	other.mustGet(t, "/")
	waitIdle(t, l, 4)
	var wg sync.WaitGroup
	for range 3 {
		c := dial(t, addr, "127.0.0.1")
		wg.Go(func() { c.get("/block") })
		<-b.in
	}
	if _, err := idle[0].get("/"); err == nil {
		t.Error("an idle connection of the client is still served")
	}
	if _, err := other.get("/"); err != nil {
		t.Errorf("another client's idle connection was closed: %v", err)
	}
	// With none idle, the client is refused; another address is served.
	r := dial(t, addr, "127.0.0.1").mustGet(t, "/")
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
	if r := dial(t, addr, "127.0.0.3").mustGet(t, "/"); r.status != 200 {
		t.Errorf("another address: status %d", r.status)
	}

	// A reverse proxy's connections count towards Max only.
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	proxied, _ := connServer(t, api.ConnLimits{Max: 100, PerClient: 3, Exempt: []*net.IPNet{loopback}}, b)
	for range 5 {
		c := dial(t, proxied, "127.0.0.1")
		wg.Go(func() { c.get("/block") })
		<-b.in
	}
	if r := dial(t, proxied, "127.0.0.1").mustGet(t, "/"); r.status != 200 {
		t.Errorf("an exempt address past PerClient: status %d", r.status)
	}
	b.done()
	wg.Wait()
}
