package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// nodeProxy stands between the notary and its node on loopback, so that a test can make
// the node unreachable and bring it back at the same address without touching btcd.
type nodeProxy struct {
	ln     net.Listener
	target string
	hung   atomic.Int32 // requests held without an answer, in total

	mu    sync.Mutex
	mode  proxyMode
	conns map[net.Conn]bool
	held  map[int32]bool // the held connections still open, by their number in hung
}

type proxyMode int

const (
	proxyUp     proxyMode = iota // forward every connection
	proxyRefuse                  // close every connection at once
	proxyHang                    // read every request, never answer
)

// startProxy forwards a free loopback port to target until the test ends.
func startProxy(t *testing.T, target string) *nodeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &nodeProxy{ln: ln, target: target, conns: map[net.Conn]bool{}, held: map[int32]bool{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.set(proxyRefuse)
	})
	return p
}

// addr is the "host:port" to give the notary instead of the node's.
func (p *nodeProxy) addr() string { return p.ln.Addr().String() }

// set changes the mode and drops every open connection, so that kept-alive ones do not
// outlive the mode they were opened in.
func (p *nodeProxy) set(m proxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// track records connections as open, for set to drop.
func (p *nodeProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = true
	}
}

func (p *nodeProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		switch mode {
		case proxyRefuse:
			c.Close()
		case proxyHang:
			p.track(c)
			n := p.hung.Add(1)
			p.mu.Lock()
			p.held[n] = true
			p.mu.Unlock()
			go func() {
				io.Copy(io.Discard, c) // until set closes it, or the client gives up
				p.mu.Lock()
				delete(p.held, n)
				p.mu.Unlock()
			}()
		case proxyUp:
			go p.forward(c)
		}
	}
}

// holding returns the number of a held connection that is still open, if there is one.
func (p *nodeProxy) holding() (n int32, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n := range p.held {
		return n, true
	}
	return 0, false
}

// stillHeld reports whether held connection n is still open: its client still waits for
// the answer.
func (p *nodeProxy) stillHeld(n int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held[n]
}

func (p *nodeProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.track(c, up)
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); done <- struct{}{} }()
	go func() { io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
}

// rpcFilter is an HTTP proxy in front of the node's JSON-RPC server that can drop the
// connection of chosen methods, as a node that goes away in the middle of a call does.
type rpcFilter struct {
	srv   *httptest.Server
	mu    sync.Mutex
	drop  map[string]bool
	calls map[string]int
}

// startRPCFilter forwards to the node at target ("host:port") until the test ends.
func startRPCFilter(t *testing.T, target string) *rpcFilter {
	t.Helper()
	f := &rpcFilter{drop: map[string]bool{}, calls: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var call struct {
			Method string `json:"method"`
		}
		json.Unmarshal(body, &call)
		f.mu.Lock()
		f.calls[call.Method]++
		drop := f.drop[call.Method]
		f.mu.Unlock()
		if drop {
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// addr is the "host:port" to give the notary instead of the node's.
func (f *rpcFilter) addr() string { return strings.TrimPrefix(f.srv.URL, "http://") }

// setDrop makes calls of method fail (or pass again).
func (f *rpcFilter) setDrop(method string, drop bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drop[method] = drop
}

// count returns how often method was called.
func (f *rpcFilter) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}
