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

// nodeBlockHash asks a bitcoind or btcd JSON-RPC server (credentials in the URL) for the
// hash of the best-chain block at height. The verifier talks to the node with nothing but
// net/http so that it stays small and independent of the service's node client.
func nodeBlockHash(ctx context.Context, nodeURL string, height int64) (string, error) {
	u, err := url.Parse(nodeURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--node %q is not a URL like http://user:pass@127.0.0.1:8332", redactURL(nodeURL))
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "1.0", "id": 1, "method": "getblockhash", "params": []any{height}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.Scheme+"://"+u.Host+u.Path, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if u.User != nil {
		pass, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	var answer struct {
		Result string `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return "", fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	if answer.Error != nil {
		return "", fmt.Errorf("node error %d: %s", answer.Error.Code, answer.Error.Message)
	}
	return strings.ToLower(answer.Result), nil
}

// redactURL hides the password of a URL for printing.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
