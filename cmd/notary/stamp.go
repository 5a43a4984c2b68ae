package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

const defaultServer = "http://127.0.0.1:8080"

func cmdStamp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("stamp", "[flags] FILE", stderr)
	server := fs.String("server", envOr("NOTARY_SERVER", defaultServer), "the notary's base `URL` (env NOTARY_SERVER)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("stamp takes one file")
	}
	path := fs.Arg(0)
	d, err := hashFile(path)
	if err != nil {
		return err
	}
	c := &client{base: strings.TrimSuffix(*server, "/")}
	var receipt timestampAnswer
	if err := c.do(ctx, http.MethodPost, "/v1/timestamps", map[string]string{"digest": d.String()}, &receipt); err != nil {
		return err
	}
	p := receipt.Proof
	if p == nil || p.Digest != d {
		return &cliError{code: exitUsage, err: errors.New("the service answered without a proof of this digest"),
			hint: "check that --server names a notary service"}
	}
	v, err := notary.Verify(p, p.OwnKey())
	if err != nil {
		return &cliError{code: exitUsage, err: fmt.Errorf("the service's receipt does not verify: %w", err),
			hint: "the service or the connection to it is faulty; nothing was saved"}
	}
	fmt.Fprintf(stdout, "stamped %s\n  sha256   %s\n  entry    %d, received %s\n", path, d, v.Index, v.Received.Format(time.RFC3339Nano))

	out := path + ".proof.json"
	if err := writeProof(out, p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  status   %s\nsaved %s\n", receipt.Status, out)
	if otsOut, err := writeProofOTS(out, p, c.base); err != nil {
		fmt.Fprintf(stdout, "note: no .ots file written: %v\n", err)
	} else {
		fmt.Fprintf(stdout, "saved %s (OpenTimestamps)\n", otsOut)
	}
	if receipt.Status != service.StatusConfirmed {
		fmt.Fprintf(stdout, "Run \"notary upgrade %s\" once the Bitcoin transaction is final to complete it.\n", out)
	}
	fmt.Fprintln(stdout, "Keep the exact original file: the proof is only for its bytes.")
	return nil
}

func cmdUpgrade(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("upgrade", "[flags] FILE.proof.json|FILE.ots|FILE.tsr", stderr)
	server := fs.String("server", "", "the notary's base `URL` (default: the service named in the proof, else env NOTARY_SERVER; for an .ots file, the calendars it names; for a .tsr token, env NOTARY_SERVER)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("upgrade takes one proof file")
	}
	path := fs.Arg(0)
	if tok, ok, err := readToken(path); ok || err != nil {
		if err != nil {
			return err
		}
		return upgradeToken(ctx, tok, path, *server, stdout)
	}
	if f, ok, err := readOTS(path); ok || err != nil {
		if err != nil {
			return err
		}
		return upgradeOTS(ctx, f, path, *server, stdout)
	}
	p, err := readProof(path)
	if err != nil {
		return err
	}
	if p.Complete() {
		fmt.Fprintf(stdout, "%s is already complete\n", path)
		return nil
	}
	base := *server
	if base == "" {
		base = p.Service
	}
	if base == "" {
		base = envOr("NOTARY_SERVER", defaultServer)
	}
	c := &client{base: strings.TrimSuffix(base, "/")}
	ts, err := c.lookup(ctx, p.Digest)
	if err != nil {
		return err
	}
	if ts.Status != service.StatusConfirmed || ts.Proof == nil || !ts.Proof.Complete() {
		msg := fmt.Sprintf("not complete yet: status %s", ts.Status)
		if ts.Anchor != nil {
			msg += fmt.Sprintf(", transaction %s with %d confirmation(s)", ts.Anchor.TxID, ts.Anchor.Confirmations)
		}
		fmt.Fprintln(stdout, msg)
		return &cliError{code: exitPending, err: errors.New("the proof is not complete yet"), hint: "try again after the next blocks"}
	}
	// Never replace a proof by one that does not verify or is about another entry. The key
	// the pending proof names is the one to compare the complete proof's with.
	v, err := notary.Verify(ts.Proof, p.OwnKey())
	if err != nil {
		return &cliError{code: exitInvalid, err: fmt.Errorf("the service sent a proof that does not verify: %v", err)}
	}
	if v.Digest != p.Digest || v.Index != p.Entry.Index || v.Received.UnixMilli() != p.Entry.ReceivedMS {
		return &cliError{code: exitInvalid, err: errors.New("the service sent a proof of another entry than this file's")}
	}
	if err := writeProof(path, ts.Proof); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "upgraded %s: complete, block %d\n", path, v.Height)
	if !v.KeyTrusted {
		fmt.Fprintf(stdout, "note: the complete proof's log key, %s, is not the pending proof's; its time rests on Bitcoin, not on the key\n", v.Key)
	}
	upgradeSiblingOTS(path, ts.Proof, stdout)
	return nil
}

// timestampAnswer is the part of the answers of POST /v1/timestamps and GET
// /v1/timestamps/{digest} the client uses.
type timestampAnswer struct {
	Status service.Status `json:"status"`
	Anchor *struct {
		TxID          string `json:"txid"`
		Confirmations int64  `json:"confirmations"`
	} `json:"anchor"`
	Proof *notary.Proof `json:"proof"`
}

// client talks to a notary's REST API.
type client struct {
	base string
}

func (c *client) lookup(ctx context.Context, d notary.Digest) (*timestampAnswer, error) {
	var ts timestampAnswer
	if err := c.do(ctx, http.MethodGet, "/v1/timestamps/"+d.String(), nil, &ts); err != nil {
		return nil, err
	}
	return &ts, nil
}

// do sends a request with a JSON body (if any) and decodes the JSON answer into out.
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return usageError("bad server URL %q: %v", c.base, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return &cliError{code: exitUsage, err: err, hint: "is the notary running at " + c.base + "? (--server)"}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, notary.MaxProofSize+1))
	if err != nil {
		return &cliError{code: exitUsage, err: fmt.Errorf("reading the answer: %v", err)}
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
			return &cliError{code: exitUsage, err: fmt.Errorf("the service answered %s: %s", resp.Status, e.Error.Message)}
		}
		return &cliError{code: exitUsage, err: fmt.Errorf("the service answered %s", resp.Status)}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &cliError{code: exitUsage, err: fmt.Errorf("the service's answer is not what notary expects: %v", err)}
	}
	return nil
}

// writeProof writes a proof file atomically.
func writeProof(path string, p *notary.Proof) error {
	data, err := notary.MarshalProof(p)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic writes a file so that a crash leaves the old file or the new one.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return &cliError{code: exitUsage, err: err}
	}
	if err := os.Rename(tmp, path); err != nil {
		return &cliError{code: exitUsage, err: err}
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
