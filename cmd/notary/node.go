package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/notary-dev/notary/internal/bitcoinrpc"
)

// The verifier asks nodes through internal/bitcoinrpc, which imports only the standard
// library, and explorers with net/http.

// maxNodeAnswer caps what the verifier reads of a node's answer: a block hash or a header
// in hex is well under it.
const maxNodeAnswer = 1 << 20

// nodeBlockHash asks a bitcoind or btcd JSON-RPC server (credentials in the URL) for the
// hash of the best-chain block at height, as nodes print it.
func nodeBlockHash(ctx context.Context, nodeURL string, height int64) (string, error) {
	var hash string
	if err := nodeCall(ctx, nodeURL, "getblockhash", []any{height}, &hash); err != nil {
		return "", err
	}
	return strings.ToLower(hash), nil
}

// nodeCall makes one JSON-RPC call to a bitcoind or btcd node (credentials in the URL) and
// decodes its result into out. ctx bounds the call.
func nodeCall(ctx context.Context, nodeURL, method string, params []any, out any) error {
	cfg, err := bitcoinrpc.FromURL(nodeURL)
	if err != nil {
		return fmt.Errorf("--node %q is %v", redactURL(nodeURL), err)
	}
	cfg.MaxResponse = maxNodeAnswer
	c, err := bitcoinrpc.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Call(ctx, out, method, params...)
}

// explorerGet returns the body of a GET to an explorer.
func explorerGet(ctx context.Context, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, printable(body, 200))
	}
	return string(body), nil
}

// redactURL hides the password of a URL for printing.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
