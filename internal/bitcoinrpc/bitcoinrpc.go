// Package bitcoinrpc is a client of the JSON-RPC interface that bitcoind and btcd share:
// one HTTP POST per call, no retries and no goroutines of its own, so that a node that
// does not answer costs a caller at most its deadline.
//
// It imports only the standard library, so that the verifier of cmd/notary can ask a node
// for a block without the service, the stores or the anchorer.
package bitcoinrpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults of Config.
const (
	// DefaultTimeout bounds a call whose context has no deadline.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxResponse caps an answer: a 4 MB block in hex is 8 MB.
	DefaultMaxResponse = 32 << 20
)

// Config says how to reach a node.
type Config struct {
	// Host is "host:port", e.g. "127.0.0.1:8332" (bitcoind mainnet) or "127.0.0.1:8334" (btcd).
	Host string
	// Path, if set, is the path of the endpoint (bitcoind's /wallet/NAME); "/" otherwise.
	Path string
	// User and Pass authenticate; alternatively CookieFile names bitcoind's .cookie file,
	// read again at every call (bitcoind rewrites it when it restarts).
	User, Pass string
	CookieFile string
	// TLS enables HTTPS (btcd's default); CertFile, if set, is the PEM certificate to
	// trust (btcd's rpc.cert). Plain HTTP otherwise (bitcoind, btcd --notls).
	TLS      bool
	CertFile string
	// Timeout bounds a call whose context has no deadline; DefaultTimeout if zero. A
	// context's own deadline always wins.
	Timeout time.Duration
	// MaxResponse caps the bytes of an answer; DefaultMaxResponse if zero. A longer answer
	// is an error, not read further.
	MaxResponse int64
}

// FromURL returns the Config of a node URL, http(s)://[user[:pass]@]host:port[/path]. The
// credentials go to User and Pass; the Client never puts them in a URL, so they appear in
// no error.
func FromURL(nodeURL string) (Config, error) {
	u, err := url.Parse(nodeURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" {
		return Config{}, errors.New("not a URL like http://user:pass@127.0.0.1:8332")
	}
	cfg := Config{Host: u.Host, Path: u.Path, TLS: u.Scheme == "https"}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Pass, _ = u.User.Password()
	}
	return cfg, nil
}

// Client calls one node. It is safe for concurrent use.
type Client struct {
	cfg    Config
	url    string
	client *http.Client
}

// New returns a client for the node described by cfg. It does not contact the node.
func New(cfg Config) (*Client, error) {
	if cfg.Host == "" {
		return nil, errors.New("bitcoinrpc: the node's host is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxResponse <= 0 {
		cfg.MaxResponse = DefaultMaxResponse
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}
	scheme := "http"
	if cfg.TLS {
		scheme = "https"
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CertFile != "" {
			pem, err := os.ReadFile(cfg.CertFile)
			if err != nil {
				return nil, fmt.Errorf("bitcoinrpc: the node's certificate: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("bitcoinrpc: the node's certificate %s holds no PEM certificate", cfg.CertFile)
			}
			tc.RootCAs = pool
		}
		transport.TLSClientConfig = tc
	}
	u := url.URL{Scheme: scheme, Host: cfg.Host, Path: cfg.Path}
	return &Client{cfg: cfg, url: u.String(), client: &http.Client{Transport: transport}}, nil
}

// Close closes the idle connections to the node. The client stays usable.
func (c *Client) Close() { c.client.CloseIdleConnections() }

// Error is an error answer from the node: its code and message, as the node sent them.
type Error struct {
	Method  string
	Code    int
	Message string
}

// Error says the method, the node's message (as printable ASCII: it may reach a
// terminal) and its code.
func (e *Error) Error() string {
	return fmt.Sprintf("node: %s: %s (code %d)", e.Method, printable([]byte(e.Message), 500), e.Code)
}

// JSON-RPC error codes shared by bitcoind and btcd.
const (
	CodeMethodNotFound  = -32601
	CodeVerifyError     = -25 // RPC_VERIFY_ERROR
	CodeVerifyRejected  = -26 // RPC_VERIFY_REJECTED
	CodeAlreadyInChain  = -27 // RPC_VERIFY_ALREADY_IN_CHAIN
	CodeDeserialization = -22 // RPC_DESERIALIZATION_ERROR
)

// Call performs one JSON-RPC call and decodes its result into out, if out is not nil. The
// call ends with ctx, or after Config.Timeout if ctx has no deadline. An error answer of
// the node is an *Error; every other failure says the method and what went wrong.
func (c *Client) Call(ctx context.Context, out any, method string, params ...any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	if params == nil {
		params = []any{} // btcd refuses a request without params
	}
	body, err := json.Marshal(struct {
		Version string `json:"jsonrpc"`
		ID      int    `json:"id"`
		Method  string `json:"method"`
		Params  []any  `json:"params"`
	}{"1.0", 1, method, params})
	if err != nil {
		return fmt.Errorf("node: %s: %v", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("node: %s: %v", method, err)
	}
	user, pass, err := c.credentials()
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("node: %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponse+1))
	if err != nil {
		return fmt.Errorf("node: %s: %w", method, err)
	}
	if int64(len(data)) > c.cfg.MaxResponse {
		return fmt.Errorf("node: %s: the answer is longer than %d bytes; it was not read", method, c.cfg.MaxResponse)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("node: %s: %s (check the RPC user and password)", method, resp.Status)
	}
	return decodeReply(method, resp.Status, data, out)
}

// decodeReply decodes the JSON-RPC answer data, of HTTP status status, to a call of method:
// its result into out (if not nil), or its error answer as an *Error. What it quotes of an
// answer that is not JSON-RPC is printable ASCII.
func decodeReply(method, status string, data []byte, out any) error {
	var reply struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &reply); err != nil {
		return fmt.Errorf("node: %s: HTTP %s, not a JSON-RPC answer: %q", method, status, printable(data, 200))
	}
	if reply.Error != nil {
		return &Error{Method: method, Code: reply.Error.Code, Message: reply.Error.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(reply.Result, out); err != nil {
		return fmt.Errorf("node: %s: unexpected result: %v", method, err)
	}
	return nil
}

func (c *Client) credentials() (string, string, error) {
	if c.cfg.CookieFile == "" {
		return c.cfg.User, c.cfg.Pass, nil
	}
	b, err := os.ReadFile(c.cfg.CookieFile)
	if err != nil {
		return "", "", fmt.Errorf("node: cookie: %w", err)
	}
	user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok {
		return "", "", fmt.Errorf("node: cookie file %s is not user:password", c.cfg.CookieFile)
	}
	return user, pass, nil
}

// printable returns at most n bytes of b as one line of printable ASCII: what a node
// answers may be shown to a user and must not be able to fake other output.
func printable(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '_'
		}
		return r
	}, strings.TrimSpace(string(b)))
}
