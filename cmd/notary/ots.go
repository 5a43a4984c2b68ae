package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/notary-dev/notary/calendar"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/ots"
)

// OpenTimestamps files (.ots) in the CLI: verify and info read them, stamp writes one beside
// the JSON proof, upgrade completes them from their calendar (docs/opentimestamps.md).

// readOTS reads path and parses it if it is an .ots file (it starts with the magic header,
// whatever its name). ok is false, with no error, for any other file.
func readOTS(path string) (f *ots.File, ok bool, err error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, false, &cliError{code: exitUsage, err: err}
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, ots.MaxSize+1))
	if err != nil {
		return nil, false, &cliError{code: exitUsage, err: fmt.Errorf("reading %s: %v", path, err)}
	}
	if !ots.IsFile(data) {
		return nil, false, nil
	}
	if f, err = ots.ParseFile(data); err != nil {
		return nil, true, &cliError{code: exitInvalid, err: fmt.Errorf("%s: %v", path, err),
			hint: "the .ots file is truncated or altered; fetch it again from its source"}
	}
	return f, true, nil
}

// writeOTS writes an .ots file atomically.
func writeOTS(path string, f *ots.File) error {
	data, err := f.MarshalBinary()
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

// otsPathFor returns the .ots path beside a JSON proof: FILE.ots for FILE.proof.json.
func otsPathFor(proofPath string) string {
	return strings.TrimSuffix(proofPath, ".proof.json") + ".ots"
}

// writeProofOTS writes the .ots form of p beside the JSON proof at proofPath, merged into
// an .ots file of the same document already there (see writeMergedOTS). server names the
// calendar of a pending proof that names none.
func writeProofOTS(proofPath string, p *notary.Proof, server string) (string, error) {
	calendarURL := ""
	if p.Service == "" {
		calendarURL = server
	}
	f, err := calendar.ProofFile(p, calendarURL)
	if err != nil {
		return "", err
	}
	return writeMergedOTS(otsPathFor(proofPath), f)
}

// writeMergedOTS writes f at path. An .ots file already there for the same document (from
// an OpenTimestamps client, say) gets f's timestamp merged in; any other file there is left
// alone, with an error.
func writeMergedOTS(path string, f *ots.File) (string, error) {
	if _, err := os.Stat(path); err == nil {
		existing, ok, err := readOTS(path)
		if err != nil || !ok || existing.HashOp != f.HashOp || !bytes.Equal(existing.Digest(), f.Digest()) {
			return "", fmt.Errorf("%s exists and is not a timestamp of this document; it is left as it is", path)
		}
		if err := existing.Timestamp.Merge(f.Timestamp); err != nil {
			return "", err
		}
		f = existing
	}
	return path, writeOTS(path, f)
}

// upgradeSiblingOTS completes the .ots file beside a JSON proof just made complete, if there
// is one for the same digest that is not complete yet, by merging the proof's timestamp into
// it (what it already holds stays). It reports what it did; failures are only reported.
func upgradeSiblingOTS(proofPath string, p *notary.Proof, stdout io.Writer) {
	path := otsPathFor(proofPath)
	if _, err := os.Stat(path); err != nil {
		return
	}
	f, ok, err := readOTS(path)
	if err != nil || !ok || f.HashOp != ots.OpSHA256 || !bytes.Equal(f.Digest(), p.Digest[:]) || f.Timestamp.Complete() {
		return
	}
	complete, err := calendar.ProofFile(p, "")
	if err == nil {
		err = f.Timestamp.Merge(complete.Timestamp)
	}
	if err == nil {
		err = writeOTS(path, f)
	}
	if err != nil {
		fmt.Fprintf(stdout, "note: %s not upgraded: %v\n", path, err)
		return
	}
	fmt.Fprintf(stdout, "upgraded %s too\n", path)
}

// blockSources are the ways verify can check a block, from its flags.
type blockSources struct {
	node, explorer, trusted string
}

// verifyOTS checks an .ots file: the document against its digest, then every Bitcoin
// attestation against the header of its block, which an .ots file does not carry, so a
// node or an explorer must give it. Pending attestations make a pending timestamp.
func verifyOTS(ctx context.Context, f *ots.File, path, doc, digestHex string, src blockSources, stdout io.Writer) error {
	say := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	name := ots.OpName(f.HashOp)
	digest := f.Digest()
	var given []byte
	switch {
	case doc != "":
		h, err := hashFileWith(doc, f.HashOp)
		if err != nil {
			return err
		}
		given = h
	case digestHex != "":
		h, err := hex.DecodeString(digestHex)
		if err != nil {
			return usageError("--digest: not hex: %v", err)
		}
		given = h
	}
	if given != nil && !bytes.Equal(given, digest) {
		return &cliError{code: exitInvalid,
			err:  fmt.Errorf("the document's %s is %x, the timestamp is for %x", name, given, digest),
			hint: "a timestamp is for the exact bytes that were stamped; check that this is the original file"}
	}
	if given != nil {
		say("ok   the document's %s is %x", name, digest)
	} else {
		say("--   no document given: checking the timestamp of %s %x only", name, digest)
	}

	var blocks []ots.Attested
	pending := 0
	for _, at := range f.Timestamp.AllAttestations() {
		switch a := at.Attestation.(type) {
		case ots.Bitcoin:
			blocks = append(blocks, at)
		case ots.Pending:
			pending++
			say("--   pending at calendar %s (commitment %x)", a.URI, at.Node.Msg)
		default:
			say("--   %v: not checked, notary checks Bitcoin attestations only", a)
		}
	}
	if len(blocks) == 0 {
		if pending == 0 {
			return &cliError{code: exitInvalid, err: errors.New("the timestamp has no attestation notary can check")}
		}
		return &cliError{code: exitPending, note: true,
			err:  errors.New("the timestamp is pending: no Bitcoin block attests it yet, so it rests on its calendar's word"),
			hint: "run \"notary upgrade " + path + "\" once the calendar's transaction is final"}
	}
	slices.SortStableFunc(blocks, func(a, b ots.Attested) int {
		return cmp.Compare(a.Attestation.(ots.Bitcoin).Height, b.Attestation.(ots.Bitcoin).Height)
	})
	if src.node == "" && src.explorer == "" {
		for _, b := range blocks {
			say("--   NOT checked: that block %d of Bitcoin's best chain has the Merkle root %s", b.Attestation.(ots.Bitcoin).Height, reversedHex(b.Node.Msg))
		}
		err := errors.New("an .ots file holds no block header, so its Bitcoin attestations need a node or an explorer to check")
		if src.trusted != "" {
			return &cliError{code: exitUsage, err: err, hint: "--block is not enough: an .ots file has no block header; pass --node (your own node) or --explorer"}
		}
		return &cliError{code: exitUnchecked, note: true, err: err, hint: "pass --node (your own node) or --explorer"}
	}

	var first notary.Header
	for i, b := range blocks {
		height := b.Attestation.(ots.Bitcoin).Height
		if len(b.Node.Msg) != merkle.HashSize {
			return &cliError{code: exitInvalid, err: fmt.Errorf("the attestation of block %d is on a %d-byte message, not a Merkle root", height, len(b.Node.Msg))}
		}
		if height > math.MaxInt32 {
			return &cliError{code: exitInvalid, err: fmt.Errorf("the attestation names block %d, beyond any Bitcoin block", height)}
		}
		h, where, err := fetchHeader(ctx, src, int64(height))
		if err != nil {
			return err
		}
		if root := h.MerkleRoot(); !bytes.Equal(root[:], b.Node.Msg) {
			return &cliError{code: exitInvalid,
				err:  fmt.Errorf("%s has block %s at height %d with Merkle root %s; the timestamp reaches %s", where, notary.ReverseHex(h.Hash()), height, notary.ReverseHex(root), reversedHex(b.Node.Msg)),
				hint: "the attesting block is not in that chain: another network, a reorganisation, or a forged timestamp"}
		}
		say("ok   the operations lead to the Merkle root of block %s (height %d), which %s has in its best chain", notary.ReverseHex(h.Hash()), height, where)
		if i == 0 {
			first = h
		}
	}
	say("The document existed no later than %s (time of block %d).", first.Time().Format(time.RFC3339), blocks[0].Attestation.(ots.Bitcoin).Height)
	return nil
}

// infoOTS describes an .ots file.
func infoOTS(f *ots.File, stdout io.Writer) error {
	w := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	w("OpenTimestamps proof (.ots, version %d)", ots.Version)
	w("  file hash         %s %x", ots.OpName(f.HashOp), f.Digest())
	atts := f.Timestamp.AllAttestations()
	for _, at := range atts {
		switch a := at.Attestation.(type) {
		case ots.Bitcoin:
			w("  attestation       Bitcoin block %d, Merkle root %s", a.Height, reversedHex(at.Node.Msg))
		case ots.Pending:
			w("  attestation       pending at calendar %s, commitment %x", a.URI, at.Node.Msg)
		default:
			w("  attestation       %v", a)
		}
	}
	var status error
	switch {
	case f.Timestamp.Complete():
		w("  status            complete (check it with notary verify --node)")
	case slices.ContainsFunc(atts, func(a ots.Attested) bool { _, ok := a.Attestation.(ots.Pending); return ok }):
		w("  status            pending: not yet in a Bitcoin block (run notary upgrade)")
		status = &cliError{code: exitPending, note: true, err: errors.New("the timestamp is pending")}
	default:
		w("  status            no attestation notary can check")
		status = &cliError{code: exitInvalid, err: errors.New("the timestamp has no attestation notary can check")}
	}
	w("")
	w("Operations:")
	fmt.Fprint(stdout, f.Timestamp.String())
	return status
}

// upgradeOTS asks the calendar of every pending attestation (or server, if set) for the
// rest of the timestamp and merges what it answers, as OpenTimestamps clients do.
func upgradeOTS(ctx context.Context, f *ots.File, path, server string, stdout io.Writer) error {
	if f.Timestamp.Complete() {
		fmt.Fprintf(stdout, "%s is already complete\n", path)
		return nil
	}
	changed := false
	asked, failed := 0, 0
	var lastErr error
	for _, at := range f.Timestamp.AllAttestations() {
		p, ok := at.Attestation.(ots.Pending)
		if !ok {
			continue
		}
		base := p.URI
		if server != "" {
			base = server
		}
		asked++
		t, reason, err := calendarTimestamp(ctx, base, at.Node.Msg)
		if err != nil {
			// Like OpenTimestamps clients, go on with the other calendars.
			failed++
			lastErr = fmt.Errorf("asking the calendar %s: %v", base, err)
			fmt.Fprintf(stdout, "calendar %s: %v\n", base, err)
			continue
		}
		if t == nil {
			fmt.Fprintf(stdout, "calendar %s: %s\n", base, reason)
			continue
		}
		if err := at.Node.Merge(t); err != nil {
			return &cliError{code: exitInvalid, err: fmt.Errorf("the calendar %s: %v", base, err)}
		}
		changed = true
	}
	if asked > 0 && failed == asked {
		return &cliError{code: exitUsage, err: lastErr, hint: "is the calendar reachable? (--server)"}
	}
	if changed {
		if err := writeOTS(path, f); err != nil {
			return err
		}
	}
	if !f.Timestamp.Complete() {
		return &cliError{code: exitPending, note: true, err: errors.New("the timestamp is not complete yet"), hint: "try again after the next blocks"}
	}
	var heights []uint64
	for _, at := range f.Timestamp.AllAttestations() {
		if b, ok := at.Attestation.(ots.Bitcoin); ok {
			heights = append(heights, b.Height)
		}
	}
	fmt.Fprintf(stdout, "upgraded %s: complete, Bitcoin block %d\n", path, slices.Min(heights))
	return nil
}

// calendarTimestamp asks an OpenTimestamps calendar for the timestamp of commitment. It
// returns the timestamp, or nil and the calendar's reason when it has none yet (404).
func calendarTimestamp(ctx context.Context, base string, commitment []byte) (*ots.Timestamp, string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, "", fmt.Errorf("%q is not an http(s) URL", base)
	}
	u = u.ResolveReference(&url.URL{Path: "timestamp/" + hex.EncodeToString(commitment)})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", ots.MediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, ots.MaxSize+1))
	if err != nil {
		return nil, "", err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		t, err := ots.ParseTimestamp(body, commitment)
		if err != nil {
			return nil, "", fmt.Errorf("its answer is not a timestamp: %v", err)
		}
		return t, "", nil
	case http.StatusNotFound:
		return nil, printable(body, 160), nil
	}
	return nil, "", fmt.Errorf("%s: %s", resp.Status, printable(body, 160))
}

// calendarSubmit submits digest to the OpenTimestamps calendar at base (POST /digest, as
// OpenTimestamps clients do) and returns the timestamp it answers, from digest on.
func calendarSubmit(ctx context.Context, base string, digest []byte) (*ots.Timestamp, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%q is not an http(s) URL", base)
	}
	u = u.ResolveReference(&url.URL{Path: "digest"})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(digest))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", ots.MediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, ots.MaxSize+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, printable(body, 160))
	}
	t, err := ots.ParseTimestamp(body, digest)
	if err != nil {
		return nil, fmt.Errorf("its answer is not a timestamp: %v", err)
	}
	return t, nil
}

// printable returns at most n bytes of b as one line of printable ASCII: a calendar's reason
// is shown to the user and must not be able to fake other output.
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

// fetchHeader returns the header of the best-chain block at height from the node or the
// explorer, and words for where it came from. The header must hash to the block hash the
// source gave for the height.
func fetchHeader(ctx context.Context, src blockSources, height int64) (notary.Header, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var (
		hash, raw, where string
		err              error
	)
	if src.node != "" {
		where = "your node at " + redactURL(src.node)
		if hash, err = nodeBlockHash(ctx, src.node, height); err == nil {
			err = nodeCall(ctx, src.node, "getblockheader", []any{hash, false}, &raw)
		}
		if err != nil {
			return notary.Header{}, "", &cliError{code: exitUsage, err: fmt.Errorf("asking the node for block %d: %v", height, err),
				hint: "check --node: URL, user, password, and that the node runs on the timestamp's network"}
		}
	} else {
		where = "the explorer " + src.explorer + " (you trust its operator for this step)"
		if hash, err = explorerBlockHash(ctx, src.explorer, height); err == nil {
			raw, err = explorerGet(ctx, strings.TrimSuffix(src.explorer, "/")+"/block/"+hash+"/header")
		}
		if err != nil {
			return notary.Header{}, "", &cliError{code: exitUsage, err: fmt.Errorf("asking the explorer for block %d: %v", height, err)}
		}
	}
	b, err := hex.DecodeString(strings.TrimSpace(raw))
	if err != nil || len(b) != notary.HeaderSize {
		return notary.Header{}, "", &cliError{code: exitUsage, err: fmt.Errorf("%s answered a header that is not %d bytes of hex", where, notary.HeaderSize)}
	}
	h := notary.Header(b)
	if got := notary.ReverseHex(h.Hash()); got != strings.ToLower(hash) {
		return notary.Header{}, "", &cliError{code: exitInvalid, err: fmt.Errorf("%s answered for block %s a header that hashes to %s", where, hash, got)}
	}
	return h, where, nil
}

// hashFileWith returns the digest of a file's contents with hash operation op.
func hashFileWith(path string, op merkle.OpCode) ([]byte, error) {
	h, err := ots.NewHash(op)
	if err != nil {
		return nil, &cliError{code: exitInvalid, err: err}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &cliError{code: exitUsage, err: err}
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return nil, &cliError{code: exitUsage, err: fmt.Errorf("reading %s: %v", path, err)}
	}
	return h.Sum(nil), nil
}

// reversedHex returns b byte-reversed in hex, as explorers print hashes.
func reversedHex(b []byte) string {
	r := slices.Clone(b)
	slices.Reverse(r)
	return hex.EncodeToString(r)
}
