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
	"path/filepath"
	"strings"
	"time"

	"github.com/notary-dev/notary/calendar"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/ots"
	"github.com/notary-dev/notary/service"
)

const defaultServer = "http://127.0.0.1:8080"

// stampExits is what stamp's exit statuses mean.
const stampExits = `
Exit status:
  0  every document stamped by every notary and calendar asked; its proof saved
  1  a notary answered with a proof that does not verify (nothing of it saved)
  2  usage or I/O error, or a notary or calendar that did not answer; what the others
     answered is saved
`

func cmdStamp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("stamp", "[flags] FILE... (or --digest HEX)", stderr)
	var servers, calendars, digests []string
	fs.Func("server", "the notary's base `URL`; repeatable: every notary named stamps each document, and their answers are merged\n"+
		"into FILE.ots, so that one notary's disappearance strands no proof; FILE.proof.json is the first one's\n"+
		"(default: env NOTARY_SERVER, else "+defaultServer+", unless --calendar is given)", appendFlag(&servers))
	fs.Func("calendar", "also stamp on the OpenTimestamps calendar at `URL` (a public calendar, or a notary); repeatable;\n"+
		"its answer is merged into FILE.ots", appendFlag(&calendars))
	fs.Func("digest", "stamp a document's SHA-256 `HEX` instead of a file, saving HEX.proof.json in --dir; repeatable", appendFlag(&digests))
	dir := fs.String("dir", ".", "the `DIR` where the proofs of --digest are saved")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), stampExits)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 && len(digests) == 0 {
		fs.Usage()
		return usageError("stamp takes one or more files, or --digest HEX")
	}
	if len(servers) == 0 && len(calendars) == 0 {
		servers = []string{envOr("NOTARY_SERVER", defaultServer)}
	}
	// Every document is hashed before anything is submitted: a missing file is reported
	// before any notary logs the others.
	var docs []stampDoc
	for _, path := range fs.Args() {
		d, err := hashFile(path)
		if err != nil {
			return err
		}
		docs = append(docs, stampDoc{name: path, out: path + ".proof.json", digest: d})
	}
	for _, h := range digests {
		d, err := notary.ParseDigest(h)
		if err != nil {
			return usageError("--digest %q: %v", h, err)
		}
		docs = append(docs, stampDoc{name: d.String(), out: filepath.Join(*dir, d.String()+".proof.json"), digest: d})
	}
	var failed []error
	for i, doc := range docs {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		errs, err := stampOne(ctx, doc, servers, calendars, stdout)
		if err != nil {
			return err
		}
		failed = append(failed, errs...)
	}
	if len(docs) > 0 && len(failed) == 0 {
		fmt.Fprintln(stdout, "Keep the exact original files: a proof is only for their bytes.")
		return nil
	}
	asked := len(docs) * (len(servers) + len(calendars))
	err := failed[len(failed)-1]
	if len(failed) > 1 {
		err = fmt.Errorf("%d of %d submissions failed; the last: %w", len(failed), asked, err)
	}
	if asked > len(failed) {
		return &cliError{code: exitUsage, err: err, hint: "what the others answered is saved; stamp again to add the ones that failed"}
	}
	var ce *cliError
	if errors.As(err, &ce) && ce.hint != "" {
		return &cliError{code: ce.code, err: err, hint: ce.hint}
	}
	return err
}

// appendFlag is the flag.Func of a repeatable flag.
func appendFlag(to *[]string) func(string) error {
	return func(s string) error {
		*to = append(*to, s)
		return nil
	}
}

// stampDoc is one document to stamp: its name for the user, its digest, and the path of
// its JSON proof (its .ots file goes beside).
type stampDoc struct {
	name, out string
	digest    notary.Digest
}

// stampOne submits doc's digest to every server and calendar, saves the first server's
// proof as doc.out and merges every answer into the .ots file beside it. It returns the
// failures of the servers and calendars, and an error only for a proof that does not verify
// or a file it cannot write.
func stampOne(ctx context.Context, doc stampDoc, servers, calendars []string, stdout io.Writer) ([]error, error) {
	say := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	say("stamped %s\n  sha256   %s", doc.name, doc.digest)
	var (
		failed    []error
		stamp     *ots.File
		savedJSON bool
		pending   bool
	)
	merge := func(from string, f *ots.File) {
		if stamp == nil {
			stamp = f
		} else if err := stamp.Timestamp.Merge(f.Timestamp); err != nil {
			say("  note     %s: not merged into the .ots file: %v", from, err)
		}
	}
	for _, server := range servers {
		c := &client{base: strings.TrimSuffix(server, "/")}
		var receipt timestampAnswer
		if err := c.do(ctx, http.MethodPost, "/v1/timestamps", map[string]string{"digest": doc.digest.String()}, &receipt); err != nil {
			say("  FAILED   notary %s: %v", c.base, err)
			failed = append(failed, err)
			continue
		}
		p := receipt.Proof
		if p == nil || p.Digest != doc.digest {
			err := &cliError{code: exitUsage, err: fmt.Errorf("%s answered without a proof of this digest", c.base), hint: "check that --server names a notary service"}
			say("  FAILED   notary %s: %v", c.base, err)
			failed = append(failed, err)
			continue
		}
		v, err := notary.Verify(p, p.OwnKey())
		if err != nil {
			return nil, &cliError{code: exitInvalid, err: fmt.Errorf("the receipt of %s does not verify: %w", c.base, err),
				hint: "the service or the connection to it is faulty; nothing of its answer was saved"}
		}
		say("  notary   %s: entry %d, received %s", c.base, v.Index, v.Received.Format(time.RFC3339Nano))
		say("  status   %s", receipt.Status)
		if receipt.Status != service.StatusConfirmed {
			pending = true
		}
		if !savedJSON {
			if err := writeProof(doc.out, p); err != nil {
				return nil, err
			}
			savedJSON = true
			say("saved %s", doc.out)
			if receipt.Status != service.StatusConfirmed {
				say("Run \"notary upgrade %s\" once the Bitcoin transaction is final to complete it.", doc.out)
			}
		}
		calendarURL := ""
		if p.Service == "" {
			calendarURL = c.base
		}
		f, err := calendar.ProofFile(p, calendarURL)
		if err != nil {
			say("  note     %s: no .ots form of its proof: %v", c.base, err)
			continue
		}
		merge(c.base, f)
	}
	for _, cal := range calendars {
		t, err := calendarSubmit(ctx, cal, doc.digest[:])
		if err != nil {
			err = &cliError{code: exitUsage, err: fmt.Errorf("the calendar %s: %v", cal, err), hint: "is the calendar reachable? (--calendar)"}
			say("  FAILED   calendar %s: %v", cal, err)
			failed = append(failed, err)
			continue
		}
		say("  calendar %s: pending", cal)
		pending = true
		merge(cal, &ots.File{HashOp: ots.OpSHA256, Timestamp: t})
	}
	if stamp == nil {
		return failed, nil
	}
	otsOut, err := writeMergedOTS(otsPathFor(doc.out), stamp)
	if err != nil {
		say("note: no .ots file written: %v", err)
		return failed, nil
	}
	say("saved %s (OpenTimestamps, %d attestation(s))", otsOut, len(stamp.Timestamp.AllAttestations()))
	if pending && !savedJSON {
		say("Run \"notary upgrade %s\" once the Bitcoin transaction is final to complete it.", otsOut)
	}
	return failed, nil
}

// upgradeExits is what upgrade's exit statuses mean.
const upgradeExits = `
Exit status:
  0  the proof is complete (upgraded now, or already)
  1  the notary or calendar sent a proof that does not verify, or one of another entry
     (the file is left as it was)
  2  usage or I/O error (a missing file; a notary, or every calendar, that did not answer)
  3  not complete yet: no Bitcoin block commits it yet, try again after the next blocks
`

func cmdUpgrade(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("upgrade", "[flags] FILE.proof.json|FILE.ots|FILE.tsr", stderr)
	server := fs.String("server", "", "the notary's base `URL` (default: the service named in the proof, else env NOTARY_SERVER; for an .ots file, the calendars it names; for a .tsr token, env NOTARY_SERVER)")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), upgradeExits)
	}
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
	p, envelope, err := readProof(path)
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
		return &cliError{code: exitPending, note: true, err: errors.New("the proof is not complete yet"), hint: "try again after the next blocks"}
	}
	// Never replace a proof by one that does not verify or is about another entry. The key
	// the pending proof names is the one to compare the complete proof's with.
	v, err := notary.Verify(ts.Proof, p.OwnKey())
	if err != nil {
		return &cliError{code: exitInvalid, err: fmt.Errorf("the service sent a proof that does not verify: %v", err)}
	}
	if v.Digest != p.Digest || v.Index != p.Entry.Index || v.Received.UnixMilli() != p.Entry.ReceivedMS {
		e := &cliError{code: exitInvalid, err: errors.New("the service sent a proof of another entry than this file's")}
		if v.Digest == p.Digest && p.Service != "" && strings.TrimSuffix(p.Service, "/") != c.base {
			e.hint = fmt.Sprintf("%s holds the proof of %s; %s logged the digest as an entry of its own: upgrade the .ots file, which holds both, or save that notary's proof apart (GET %s/v1/timestamps/%s/proof)",
				path, p.Service, c.base, c.base, p.Digest)
		}
		return e
	}
	if err := writeProof(path, ts.Proof); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "upgraded %s: complete, block %d\n", path, v.Height)
	if envelope {
		fmt.Fprintf(stdout, "note: %s held the API's lookup answer; it now holds the complete proof alone\n", path)
	}
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

// writeFileAtomic writes a file the user asked for, as writeAtomic does (a crash leaves
// the old file or the new one); failing, it exits with the usage or I/O status.
func writeFileAtomic(path string, data []byte) error {
	if err := writeAtomic(path, data); err != nil {
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
