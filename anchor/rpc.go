package anchor

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// RPCConfig says how to reach a bitcoind or btcd JSON-RPC server.
type RPCConfig struct {
	// Host is "host:port", e.g. "127.0.0.1:8332" (bitcoind mainnet) or "127.0.0.1:8334" (btcd).
	Host string
	// User and Pass authenticate; alternatively CookieFile names bitcoind's .cookie file,
	// read again at every call (bitcoind rewrites it when it restarts).
	User, Pass string
	CookieFile string
	// TLS enables HTTPS (btcd's default); CertFile, if set, is the PEM certificate to
	// trust (btcd's rpc.cert). Plain HTTP otherwise (bitcoind, btcd --notls).
	TLS      bool
	CertFile string
	// Timeout bounds a call whose context has no deadline. Default 30 s.
	Timeout time.Duration
}

// RPC is a Node backed by the JSON-RPC interface that bitcoind and btcd share. Each
// call is one HTTP POST governed by its context: no retries, no background
// goroutines, so a dead node costs a caller at most its deadline.
type RPC struct {
	cfg    RPCConfig
	url    string
	client *http.Client
	// feeMethod remembers which fee estimation call the node answers:
	// 0 unknown, 1 estimatesmartfee (bitcoind), 2 estimatefee (btcd).
	feeMethod atomic.Int32
}

var _ Node = (*RPC)(nil)

// NewRPC returns a client for the node described by cfg. It does not contact the node.
func NewRPC(cfg RPCConfig) (*RPC, error) {
	if cfg.Host == "" {
		return nil, errors.New("anchor: RPC host is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}
	scheme := "http"
	if cfg.TLS {
		scheme = "https"
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CertFile != "" {
			pem, err := os.ReadFile(cfg.CertFile)
			if err != nil {
				return nil, fmt.Errorf("anchor: RPC certificate: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("anchor: RPC certificate %s holds no PEM certificate", cfg.CertFile)
			}
			tc.RootCAs = pool
		}
		transport.TLSClientConfig = tc
	}
	return &RPC{cfg: cfg, url: scheme + "://" + cfg.Host, client: &http.Client{Transport: transport}}, nil
}

// RPCError is an error answer from the node.
type RPCError struct {
	Method  string
	Code    int
	Message string
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("anchor: node: %s: %s (code %d)", e.Method, e.Message, e.Code)
}

// JSON-RPC error codes shared by bitcoind and btcd.
const (
	codeMethodNotFound  = -32601
	codeVerifyError     = -25 // RPC_VERIFY_ERROR
	codeVerifyRejected  = -26 // RPC_VERIFY_REJECTED
	codeAlreadyInChain  = -27 // RPC_VERIFY_ALREADY_IN_CHAIN
	codeDeserialization = -22 // RPC_DESERIALIZATION_ERROR
)

// maxResponse caps a response body: a 4 MB block in hex is 8 MB.
const maxResponse = 32 << 20

// call performs one JSON-RPC call and decodes its result into out (if not nil).
func (c *RPC) call(ctx context.Context, out any, method string, params ...any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	if params == nil {
		params = []any{} // btcd rejects a request without params
	}
	body, err := json.Marshal(struct {
		Version string `json:"jsonrpc"`
		ID      int    `json:"id"`
		Method  string `json:"method"`
		Params  []any  `json:"params"`
	}{"1.0", 1, method, params})
	if err != nil {
		return fmt.Errorf("anchor: node: %s: %v", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("anchor: node: %s: %v", method, err)
	}
	user, pass, err := c.credentials()
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("anchor: node: %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("anchor: node: %s: %w", method, err)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("anchor: node: %s: %s (check the RPC credentials)", method, resp.Status)
	}
	var reply struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &reply); err != nil {
		return fmt.Errorf("anchor: node: %s: HTTP %s, not a JSON-RPC answer", method, resp.Status)
	}
	if reply.Error != nil {
		return &RPCError{Method: method, Code: reply.Error.Code, Message: reply.Error.Message}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(reply.Result, out); err != nil {
		return fmt.Errorf("anchor: node: %s: unexpected result: %v", method, err)
	}
	return nil
}

func (c *RPC) credentials() (string, string, error) {
	if c.cfg.CookieFile == "" {
		return c.cfg.User, c.cfg.Pass, nil
	}
	b, err := os.ReadFile(c.cfg.CookieFile)
	if err != nil {
		return "", "", fmt.Errorf("anchor: node: cookie: %w", err)
	}
	user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok {
		return "", "", fmt.Errorf("anchor: node: cookie file %s is not user:password", c.cfg.CookieFile)
	}
	return user, pass, nil
}

// BlockCount implements Node.
func (c *RPC) BlockCount(ctx context.Context) (int64, error) {
	var n int64
	err := c.call(ctx, &n, "getblockcount")
	return n, err
}

// BlockHash implements Node.
func (c *RPC) BlockHash(ctx context.Context, height int64) (chainhash.Hash, error) {
	var s string
	if err := c.call(ctx, &s, "getblockhash", height); err != nil {
		return chainhash.Hash{}, err
	}
	h, err := chainhash.NewHashFromStr(s)
	if err != nil {
		return chainhash.Hash{}, fmt.Errorf("anchor: node: getblockhash: %v", err)
	}
	return *h, nil
}

// Block implements Node.
func (c *RPC) Block(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error) {
	var s string
	if err := c.call(ctx, &s, "getblock", hash.String(), 0); err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("anchor: node: getblock %s: %v", hash, err)
	}
	var blk wire.MsgBlock
	if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("anchor: node: getblock %s: %v", hash, err)
	}
	if got := blk.BlockHash(); got != hash {
		return nil, fmt.Errorf("anchor: node: getblock %s returned block %s", hash, got)
	}
	return &blk, nil
}

// SendRawTransaction implements Node.
func (c *RPC) SendRawTransaction(ctx context.Context, tx *wire.MsgTx) error {
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return fmt.Errorf("anchor: serialize transaction: %v", err)
	}
	err := c.call(ctx, nil, "sendrawtransaction", hex.EncodeToString(buf.Bytes()))
	var rpcErr *RPCError
	if errors.As(err, &rpcErr) {
		if kind := classifySendError(rpcErr); kind != nil {
			return &sendError{kind: kind, err: rpcErr}
		}
	}
	return err
}

// sendError is a node's answer to sendrawtransaction that matches kind
// (ErrTxKnown, ErrTxConflict or ErrTxRejected); its text is the node's.
type sendError struct {
	kind error
	err  *RPCError
}

func (e *sendError) Error() string   { return e.err.Error() }
func (e *sendError) Unwrap() []error { return []error{e.kind, e.err} }

// classifySendError maps a sendrawtransaction error answer from bitcoind or btcd
// onto ErrTxKnown, ErrTxConflict or ErrTxRejected; nil means the answer says
// nothing about the transaction.
func classifySendError(e *RPCError) error {
	msg := strings.ToLower(e.Message)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(msg, s) {
				return true
			}
		}
		return false
	}
	switch {
	case e.Code == codeAlreadyInChain,
		has("already have transaction", "already in block chain", "already exists",
			"txn-already-in-mempool", "txn-already-known", "already in utxo set"):
		return ErrTxKnown
	case has("missing inputs", "missingorspent", "missing-inputs", "orphan transaction",
		"txn-mempool-conflict", "already spent", "fully-spent"):
		return ErrTxConflict
	case e.Code == codeVerifyRejected, e.Code == codeDeserialization, e.Code == codeVerifyError:
		// btcd answers -25 for consensus failures (an immature coinbase, a bad
		// signature) and, rarely, for its own internal failures, which this
		// takes for a rejection too.
		return ErrTxRejected
	}
	return nil
}

// EstimateFee implements Node. It asks estimatesmartfee (bitcoind) and falls back
// to estimatefee (btcd), remembering which one the node answers. Answers that carry
// no estimate (btcd on a young chain fails, or says 0) give 0 and no error.
func (c *RPC) EstimateFee(ctx context.Context, target int) (SatPerVByte, error) {
	if c.feeMethod.Load() != 2 {
		var smart struct {
			FeeRate *float64 `json:"feerate"`
		}
		err := c.call(ctx, &smart, "estimatesmartfee", target)
		var rpcErr *RPCError
		switch {
		case err == nil:
			c.feeMethod.Store(1)
			if smart.FeeRate == nil {
				return 0, nil
			}
			return RateFromBTCPerKvB(*smart.FeeRate), nil
		case !errors.As(err, &rpcErr):
			return 0, err
		case rpcErr.Code != codeMethodNotFound || c.feeMethod.Load() == 1:
			return 0, nil
		}
		c.feeMethod.Store(2)
	}
	var btcPerKB float64
	err := c.call(ctx, &btcPerKB, "estimatefee", target)
	var rpcErr *RPCError
	if errors.As(err, &rpcErr) {
		return 0, nil // btcd: "not enough blocks have been observed", reported as -32600
	}
	if err != nil {
		return 0, err
	}
	return RateFromBTCPerKvB(btcPerKB), nil
}
