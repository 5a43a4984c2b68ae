package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The verifier talks to nodes and explorers with nothing but net/http, so that it stays
// small and independent of the service's node client.

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
// decodes its result into out.
func nodeCall(ctx context.Context, nodeURL, method string, params []any, out any) error {
	u, err := url.Parse(nodeURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("--node %q is not a URL like http://user:pass@127.0.0.1:8332", redactURL(nodeURL))
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "1.0", "id": 1, "method": method, "params": params})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.Scheme+"://"+u.Host+u.Path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if u.User != nil {
		pass, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	var answer struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return fmt.Errorf("%s: %s", resp.Status, printable(raw, 200))
	}
	if answer.Error != nil {
		return fmt.Errorf("node error %d: %s", answer.Error.Code, answer.Error.Message)
	}
	return json.Unmarshal(answer.Result, out)
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
