package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// verifyExits is what verify's exit statuses mean, for its help and the README.
const verifyExits = `
Exit status:
  0  complete, and its block checked against your node, an explorer or a block you trust
  1  invalid or forged; or pending and signed by a key you did not give (--key, --keys);
     or pending without the cosignatures --witness-key and --witness-quorum require
  2  usage or I/O error (a missing file, a node that does not answer)
  3  valid so far but pending: it rests on the signature of a log key you trust
     (an .ots file: on its calendar's word)
  4  complete, but its block not checked against any chain source (no --node, --explorer, --block)
  5  valid so far but pending, and signed only by the key it names itself: without --key or
     --keys, that key was trusted, and anyone can make one
An RFC 3161 token (FILE.tsr) exits the same way: 3 and 5 are a valid token without the
complete proof of its imprint, trusted through --tsa-ca (3) or the certificate it carries
(5); 1 a token not the trusted TSA's, altered, or for other data (docs/rfc3161.md).
`

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", "[flags] FILE.proof.json|FILE.ots|FILE.tsr [FILE]", stderr)
	nodeURL := fs.String("node", "", "check the block against your own node's JSON-RPC (`URL`, e.g. http://user:pass@127.0.0.1:8332)")
	explorer := fs.String("explorer", "", "check the block against an Esplora-style explorer (`URL`; you trust its operator)")
	trusted := fs.String("block", "", "check against a block `HASH` you already trust (as explorers print it)")
	digestHex := fs.String("digest", "", "the document's SHA-256 `HEX`, instead of giving the document")
	var keyArgs []string
	fs.Func("key", "trust the log key `VKEY`, as the notary publishes it (GET /v1/keys: log_key); repeatable", func(s string) error {
		keyArgs = append(keyArgs, s)
		return nil
	})
	keysFile := fs.String("keys", "", "trust the log keys listed in `FILE`, one a line (# comments)")
	var wf witnessVerifyFlags
	wf.register(fs)
	tsaCA := fs.String("tsa-ca", "", "for an RFC 3161 token: trust the TSA certificates in `FILE` (PEM; GET /tsa/certchain)")
	proofFile := fs.String("proof", "", "for an RFC 3161 token: the complete notary proof of its imprint (`FILE`; default TOKEN.proof.json if there)")
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(fs.Output(), verifyExits)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return usageError("verify takes a proof file and, optionally, the document")
	}
	if *trusted != "" {
		if _, err := merkle.ParseHash(*trusted); err != nil {
			return usageError("--block %q is not a block hash (64 hex characters)", *trusted)
		}
	}
	keys, err := trustedKeys(keyArgs, *keysFile)
	if err != nil {
		return err
	}
	witnesses, err := wf.parse()
	if err != nil {
		return err
	}
	proofPath, docPath := fs.Arg(0), fs.Arg(1)
	if fs.NArg() == 2 && fileExists(proofPath) && !isProofFile(proofPath) && isProofFile(docPath) {
		return &cliError{code: exitUsage,
			err:  fmt.Errorf("the arguments are swapped: %s is a proof and %s is not", docPath, proofPath),
			hint: fmt.Sprintf("the proof comes first, then the document: notary verify %s %s", docPath, proofPath)}
	}
	say := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	if fs.NArg() == 1 && *digestHex == "" {
		if beside := documentBeside(proofPath); beside != "" {
			docPath = beside
			say("--   document %s: found beside the proof (name another as the second argument)", docPath)
		}
	}
	if tok, ok, err := readToken(proofPath); ok || err != nil {
		if err != nil {
			return err
		}
		if *digestHex != "" {
			return usageError("--digest is for proofs: a token is checked against the document itself")
		}
		return verifyToken(ctx, tok, proofPath, docPath, tokenCheck{*tsaCA, *proofFile, keys, blockSources{*nodeURL, *explorer, *trusted}}, stdout)
	}
	if f, ok, err := readOTS(proofPath); ok || err != nil {
		if err != nil {
			return err
		}
		return verifyOTS(ctx, f, proofPath, docPath, *digestHex, blockSources{*nodeURL, *explorer, *trusted}, stdout)
	}
	p, envelope, err := readProof(proofPath)
	if err != nil {
		return err
	}
	if envelope {
		say("--   %s is the API's lookup answer: checking the proof it holds", proofPath)
	}
	var want *notary.Digest
	switch {
	case docPath != "":
		d, err := hashFile(docPath)
		if err != nil {
			return err
		}
		want = &d
	case *digestHex != "":
		d, err := notary.ParseDigest(*digestHex)
		if err != nil {
			return usageError("--digest: %v", err)
		}
		want = &d
	}
	if want != nil && *want != p.Digest {
		return &cliError{code: exitInvalid,
			err:  fmt.Errorf("the document's SHA-256 is %s, the proof is for %s", want, p.Digest),
			hint: "a proof is for the exact bytes that were stamped; check that this is the original file"}
	}

	// A node or an explorer of another chain is not to be believed about a block: ask it
	// which chain it follows first.
	src := blockSources{*nodeURL, *explorer, *trusted}
	var chainLine string
	if p.Complete() {
		if chainLine, err = checkChain(ctx, p.Bitcoin.Network, src); err != nil {
			return err
		}
	}

	// Without keys of its own, the user trusts the key the proof names: say so, always.
	ownKey := keys == nil
	if ownKey {
		keys = p.OwnKey()
	}
	v, err := notary.Verify(p, keys)
	if nte := (*notary.NotTrustedError)(nil); errors.As(err, &nte) {
		return &cliError{code: exitInvalid, err: err,
			hint: "until a Bitcoin block commits it, a pending proof is worth its log's signature alone, and anyone can make a key: " +
				"ask the notary that issued it for the key it publishes (GET /v1/keys), and pass that with --key"}
	}
	if err != nil {
		return &cliError{code: exitInvalid, err: err, hint: "the proof file is corrupt or was altered; fetch it again from its source"}
	}
	if want != nil {
		say("ok   the document's SHA-256 is %s", v.Digest)
	} else {
		say("--   no document given: checking the proof for digest %s only", v.Digest)
	}
	entry := fmt.Sprintf("entry %d is in the log %s of size %d (root %s)", v.Index, v.Origin, v.LogSize, v.LogRoot)
	switch {
	case ownKey:
		say("ok   %s, checkpoint signed by the key the proof names", entry)
		say("--   NOT checked: that %s is the log's key; no --key or --keys given, so the key the proof names was trusted", v.Key)
	case v.KeyTrusted:
		say("ok   %s, checkpoint signed by a key you trust (%s)", entry, v.Key)
	default:
		say("ok   %s, checkpoint signed by the key the proof names", entry)
		say("--   NOT trusted: that key, %s, is not one you gave: who logged the entry is not established; the proof's time rests on Bitcoin, not on that key", v.Key)
	}
	if err := witnesses.check(p, v, say); err != nil {
		return err
	}
	upgrade := "run \"notary upgrade " + proofPath + "\" once the anchoring transaction is final"
	switch {
	case !v.Complete && ownKey:
		return &cliError{code: exitPendingOwnKey, note: true,
			err:  errors.New("the proof is pending: no Bitcoin block commits it yet, and it rests on the signature of the key it names, which you did not say you trust"),
			hint: "pass the notary's log key (GET /v1/keys on the notary: log_key) with --key to check whose signature it is; " + upgrade}
	case !v.Complete:
		return &cliError{code: exitPending, note: true,
			err:  errors.New("the proof is pending: no Bitcoin block commits it yet, so it rests on the signature of the log key you trust"),
			hint: upgrade}
	}
	say("ok   transaction %s commits that root in an OP_RETURN output", notary.ReverseHex(v.TxID))
	say("ok   the transaction is in block %s (height %d, network %s)", notary.ReverseHex(v.BlockHash), v.Height, v.Network)
	say("ok   the block header meets its proof-of-work target, within %s's limit", v.Network)

	checked, err := checkBestChain(ctx, v, *nodeURL, *explorer, *trusted)
	if err != nil {
		return err
	}
	if chainLine != "" {
		say("%s", chainLine)
	}
	say("%s", checked)
	if v.Network != "mainnet" {
		say("note this proof is anchored on %s, not Bitcoin's main network: it shows the mechanism, not a time anyone must accept", v.Network)
	}
	say("The document existed no later than %s (time of block %d).", v.BlockTime.Format(time.RFC3339), v.Height)
	if src == (blockSources{}) {
		return &cliError{code: exitUnchecked, note: true,
			err:  errors.New("the block was not checked against any chain source: the proof shows work on a header, not that Bitcoin accepted it"),
			hint: "pass --node (your own node), --explorer or --block to check it"}
	}
	return nil
}

// isProofFile reports whether path holds a proof notary reads: a time-stamp token, an .ots
// file, a proof document or the API's lookup answer around one. A file that cannot be read
// is not one.
func isProofFile(path string) bool {
	if !fileExists(path) {
		return false
	}
	if _, ok, err := readToken(path); ok || err != nil {
		return ok && err == nil
	}
	if _, ok, err := readOTS(path); ok || err != nil {
		return ok && err == nil
	}
	_, _, err := readProof(path)
	return err == nil
}

// fileExists reports whether path names a regular file.
func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// documentBeside returns the document a proof is named after, FILE for FILE.proof.json or
// FILE.ots or FILE.tsr, if it is a regular file; else "".
func documentBeside(proofPath string) string {
	for _, suffix := range []string{".proof.json", ".ots", ".tsr"} {
		doc, ok := strings.CutSuffix(proofPath, suffix)
		if !ok || doc == "" || strings.HasSuffix(doc, string(os.PathSeparator)) {
			continue
		}
		if fileExists(doc) {
			return doc
		}
	}
	return ""
}

// trustedKeys returns the log keys of --key and --keys as the verifiers to pass to
// notary.Verify, or nil if neither flag was given.
func trustedKeys(keyArgs []string, keysFile string) (note.Verifiers, error) {
	type source struct{ key, from string }
	var all []source
	for _, k := range keyArgs {
		all = append(all, source{k, "--key"})
	}
	if keysFile != "" {
		data, err := os.ReadFile(keysFile)
		if err != nil {
			return nil, &cliError{code: exitUsage, err: fmt.Errorf("--keys: %v", err)}
		}
		n := len(all)
		for i, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				all = append(all, source{line, fmt.Sprintf("%s:%d", keysFile, i+1)})
			}
		}
		if len(all) == n {
			return nil, usageError("--keys: %s lists no keys", keysFile)
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	var vs []note.Verifier
	seen := map[string]bool{}
	for _, k := range all {
		v, err := note.NewVerifier(k.key)
		if err != nil {
			return nil, &cliError{code: exitUsage, err: fmt.Errorf("%s: %q is not a log key: %v", k.from, printable([]byte(k.key), 120), err),
				hint: "a log key reads name+hash+key, as GET /v1/keys gives it (log_key)"}
		}
		if !seen[k.key] { // the same key twice would make it ambiguous
			seen[k.key] = true
			vs = append(vs, v)
		}
	}
	return note.VerifierList(vs...), nil
}

// checkChain asks the node or the explorer of src, if any, for its block 0, and refuses the
// proof unless that is the genesis block of the proof's network: a regtest node has a block
// at every height a relabelled proof names. It returns the line saying what it checked.
func checkChain(ctx context.Context, network string, src blockSources) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var (
		source, genesisHex string
		err                error
	)
	switch {
	case src.node != "":
		source = "your node at " + redactURL(src.node)
		if genesisHex, err = nodeBlockHash(ctx, src.node, 0); err == nil {
			if _, perr := merkle.ParseHash(genesisHex); perr != nil {
				err = fmt.Errorf("it answered %q, not a block hash", printable([]byte(genesisHex), 100))
			}
		}
		if err != nil {
			return "", &cliError{code: exitUsage, err: fmt.Errorf("asking the node for its block 0: %v", err),
				hint: "check --node: URL, user, password, and that the node runs on " + network}
		}
	case src.explorer != "":
		source = "the explorer " + src.explorer
		if genesisHex, err = explorerBlockHash(ctx, src.explorer, 0); err != nil {
			return "", &cliError{code: exitUsage, err: fmt.Errorf("asking the explorer for its block 0: %v", err)}
		}
	default:
		return "", nil
	}
	follows := "a chain of none of the networks a proof can name"
	if n, ok := notary.NetworkOfGenesis(internalHash(genesisHex)); ok {
		if n.Name == network {
			return fmt.Sprintf("ok   %s follows %s, the proof's network (its block 0 is %s)", source, network, genesisHex), nil
		}
		follows = n.Name
	}
	return "", &cliError{code: exitInvalid,
		err:  fmt.Errorf("the proof is anchored on %s, but %s follows %s (its block 0 is %s)", network, source, follows, genesisHex),
		hint: "check the proof against a node of " + network + "; a proof whose network is not its block's is forged"}
}

// internalHash returns a block hash as nodes print it (64 hex digits, checked) in internal
// byte order.
func internalHash(printed string) merkle.Hash {
	h, _ := merkle.ParseHash(printed)
	slices.Reverse(h[:])
	return h
}

// checkBestChain checks that the proof's block is in the best chain at its height, with
// whichever source the user gave, and says what was checked and trusted.
func checkBestChain(ctx context.Context, v *notary.Verified, nodeURL, explorer, trusted string) (string, error) {
	blockHex := notary.ReverseHex(v.BlockHash)
	mismatch := func(source, got string) error {
		return &cliError{code: exitInvalid,
			err:  fmt.Errorf("%s has block %s at height %d, not the proof's %s", source, got, v.Height, blockHex),
			hint: "the anchoring block is not in that chain: a reorganisation, another network, or a forged header"}
	}
	switch {
	case nodeURL != "":
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		got, err := nodeBlockHash(ctx, nodeURL, v.Height)
		if err != nil {
			return "", &cliError{code: exitUsage, err: fmt.Errorf("asking the node: %v", err), hint: "check --node: URL, user, password, and that the node runs on " + v.Network}
		}
		if got != blockHex {
			return "", mismatch("your node", got)
		}
		return fmt.Sprintf("ok   your node at %s has this block at height %d in its best chain", redactURL(nodeURL), v.Height), nil
	case explorer != "":
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		got, err := explorerBlockHash(ctx, explorer, v.Height)
		if err != nil {
			return "", &cliError{code: exitUsage, err: fmt.Errorf("asking the explorer: %v", err)}
		}
		if got != blockHex {
			return "", mismatch("the explorer", got)
		}
		return fmt.Sprintf("ok   the explorer %s has this block at height %d (you trust the explorer's operator for this step)", explorer, v.Height), nil
	case trusted != "":
		if !strings.EqualFold(trusted, blockHex) {
			return "", mismatch("the block you trust", strings.ToLower(trusted))
		}
		return fmt.Sprintf("ok   the block is the one you said you trust (%s)", blockHex), nil
	default:
		return fmt.Sprintf("--   NOT checked: that block %s is in Bitcoin's best chain at height %d; pass --node, --explorer or --block to check it", blockHex, v.Height), nil
	}
}

// explorerBlockHash asks an Esplora-style explorer for the hash of the block at height.
func explorerBlockHash(ctx context.Context, base string, height int64) (string, error) {
	body, err := explorerGet(ctx, strings.TrimSuffix(base, "/")+"/block-height/"+strconv.FormatInt(height, 10))
	if err != nil {
		return "", err
	}
	hash := strings.TrimSpace(body)
	if _, err := merkle.ParseHash(hash); err != nil {
		return "", fmt.Errorf("the explorer answered %q, not a block hash", printable([]byte(hash), 100))
	}
	return strings.ToLower(hash), nil
}

// infoExits is what info's exit statuses mean. info describes a proof; it checks it only
// as far as the proof can check itself (verify checks keys and blocks).
const infoExits = `
Exit status:
  0  a complete proof
  1  an invalid proof, or an .ots file with no attestation notary can check
  2  usage or I/O error
  3  a pending proof: no Bitcoin block commits it yet
`

func cmdInfo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("info", "FILE.proof.json|FILE.ots|FILE.tsr", stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: notary info FILE.proof.json|FILE.ots|FILE.tsr\n\nDescribe a proof.\n")
		fmt.Fprint(fs.Output(), infoExits)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("info takes one proof file")
	}
	if tok, ok, err := readToken(fs.Arg(0)); ok || err != nil {
		if err != nil {
			return err
		}
		return infoToken(tok, stdout)
	}
	if f, ok, err := readOTS(fs.Arg(0)); ok || err != nil {
		if err != nil {
			return err
		}
		return infoOTS(f, stdout)
	}
	p, envelope, err := readProof(fs.Arg(0))
	if err != nil {
		return err
	}
	w := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	w("Proof of existence (%s)", p.Format)
	if envelope {
		w("  file              the API's lookup answer, holding the proof")
	}
	w("  digest (SHA-256)  %s", p.Digest)
	w("  log entry         %d, received %s", p.Entry.Index, time.UnixMilli(p.Entry.ReceivedMS).UTC().Format(time.RFC3339Nano))
	if p.Service != "" {
		w("  service           %s", p.Service)
	}
	v, verr := notary.Verify(p, p.OwnKey())
	if v != nil {
		w("  log               %s, size %d, root %s", v.Origin, v.LogSize, v.LogRoot)
		w("  log key           %s (as the proof names it; notary verify --key compares it)", v.Key)
		w("  inclusion path    %d hashes", len(p.Log.Inclusion))
	}
	if p.Bitcoin == nil {
		w("  status            pending: not yet in a Bitcoin block (run notary upgrade)")
	} else if v != nil {
		w("  status            complete")
		w("  network           %s", v.Network)
		w("  transaction       %s (%d bytes)", notary.ReverseHex(v.TxID), len(p.Bitcoin.Tx))
		w("  block             %s, height %d, transaction %d, branch of %d hashes", notary.ReverseHex(v.BlockHash), v.Height, p.Bitcoin.TxIndex, len(p.Bitcoin.Branch))
		w("  block time        %s", v.BlockTime.Format(time.RFC3339))
	}
	if verr != nil {
		w("  INVALID           %v", verr)
		return &cliError{code: exitInvalid, err: verr}
	}
	if p.Bitcoin == nil {
		return &cliError{code: exitPending, note: true, err: errors.New("the proof is pending"), hint: "run \"notary upgrade " + fs.Arg(0) + "\" once the anchoring transaction is final"}
	}
	return nil
}

// readProof reads and parses a proof file: a proof document, or the API's lookup answer
// around one (envelope is true then).
func readProof(path string) (p *notary.Proof, envelope bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, &cliError{code: exitUsage, err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 2*notary.MaxProofSize+1))
	if err != nil {
		return nil, false, &cliError{code: exitUsage, err: fmt.Errorf("reading %s: %v", path, err)}
	}
	p, err = notary.ParseProof(data)
	if err == nil {
		return p, false, nil
	}
	if ep, ok, eerr := parseEnvelope(data); ok {
		if eerr != nil {
			return nil, true, &cliError{code: exitInvalid, err: fmt.Errorf("%s: %v", path, eerr),
				hint: "fetch the proof again: GET /v1/timestamps/DIGEST/proof answers the proof document alone"}
		}
		return ep, true, nil
	}
	return nil, false, &cliError{code: exitInvalid, err: fmt.Errorf("%s: %v", path, err),
		hint: "is this a notary proof file (FILE.proof.json)? it may be truncated or altered"}
}

// hashFile returns the SHA-256 of a file's contents.
func hashFile(path string) (notary.Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return notary.Digest{}, &cliError{code: exitUsage, err: err}
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return notary.Digest{}, &cliError{code: exitUsage, err: fmt.Errorf("reading %s: %v", path, err)}
	}
	var d notary.Digest
	h.Sum(d[:0])
	return d, nil
}
