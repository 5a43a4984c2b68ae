package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
	"github.com/notary-dev/notary/tsa"
)

// The RFC 3161 time-stamp authority in the command line (docs/rfc3161.md): serve and dev
// sign tokens with the certificate of --tsa-cert and --tsa-key, else with a chain they make
// in the data directory on first run; verify checks a token (FILE.tsr) and, with the
// complete proof of its imprint, its anchor in Bitcoin; upgrade fetches that proof.

// The files of the TSA's own chain in the data directory.
const (
	tsaChainFile   = "tsa-chain.pem" // the TSA's certificate, then its root
	tsaKeyFile     = "tsa.key"       // the TSA certificate's key (0600)
	tsaRootKeyFile = "tsa-root.key"  // the root's key (0600), to issue the next TSA certificate
)

// tsaFlags are the TSA settings of serve and dev.
type tsaFlags struct {
	cert, key, policy, accuracy string
}

func (f *tsaFlags) register(fs interface {
	StringVar(*string, string, string, string)
}) {
	fs.StringVar(&f.cert, "tsa-cert", "", "sign RFC 3161 tokens with the certificate chain in `FILE` (PEM: the TSA's certificate first; "+
		"default: "+tsaChainFile+" in --data, made on first run)")
	fs.StringVar(&f.key, "tsa-key", "", "the private key of --tsa-cert (`FILE`, PEM; ECDSA P-256/P-384 or RSA)")
	fs.StringVar(&f.policy, "tsa-policy", tsa.DefaultPolicy, "the TSA policy `OID` every token names")
	fs.StringVar(&f.accuracy, "tsa-accuracy", "1s", "the accuracy of the tokens' time (`DURATION`; 0 states none)")
}

// signer returns the TSA's signer: the operator's certificate and key, or the chain of
// the data directory, made there on first run with name in its common names.
func (f *tsaFlags) signer(data, name string, log *slog.Logger) (*tsa.Signer, error) {
	if f.policy == "" {
		f.policy = tsa.DefaultPolicy
	}
	if f.accuracy == "" {
		f.accuracy = "1s"
	}
	policy, err := x509.ParseOID(f.policy)
	if err != nil {
		return nil, usageError("--tsa-policy %q is not an object identifier like 1.3.6.1.4.1.99999.1", f.policy)
	}
	accuracy, err := time.ParseDuration(f.accuracy)
	if err != nil || accuracy < 0 {
		return nil, usageError("--tsa-accuracy %q is not a non-negative duration like 1s or 500ms", f.accuracy)
	}
	certPath, keyPath := f.cert, f.key
	if (certPath == "") != (keyPath == "") {
		return nil, usageError("--tsa-cert and --tsa-key go together")
	}
	if certPath == "" {
		certPath, keyPath = filepath.Join(data, tsaChainFile), filepath.Join(data, tsaKeyFile)
		if err := createTSAChain(data, name, log); err != nil {
			return nil, err
		}
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, usageError("reading the TSA certificate: %v", err)
	}
	chain, err := tsa.ParseCertificates(certPEM)
	if err != nil {
		return nil, usageError("%s: %v", certPath, err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, usageError("reading the TSA key: %v", err)
	}
	key, err := tsa.ParseKey(keyPEM)
	if err != nil {
		return nil, usageError("%s: %v", keyPath, err)
	}
	s, err := tsa.NewSigner(tsa.SignerConfig{Key: key, Chain: chain, Policy: policy, Accuracy: accuracy})
	if err != nil {
		return nil, &cliError{code: exitUsage, err: fmt.Errorf("%s: %v", certPath, err),
			hint: "RFC 3161 clients want an ECDSA or RSA certificate whose only extended key usage is timeStamping, marked critical"}
	}
	return s, nil
}

// createTSAChain makes a root and a TSA certificate in data unless the chain is there.
func createTSAChain(data, name string, log *slog.Logger) error {
	chainPath := filepath.Join(data, tsaChainFile)
	_, errChain := os.Stat(chainPath)
	_, errKey := os.Stat(filepath.Join(data, tsaKeyFile))
	switch {
	case errChain == nil && errKey == nil:
		return nil
	case errChain == nil || errKey == nil:
		return usageError("%s has one of %s and %s without the other; restore it, or remove both to make a new chain", data, tsaChainFile, tsaKeyFile)
	}
	ch, err := tsa.GenerateChain(name, time.Now())
	if err != nil {
		return err
	}
	leafKey, err := tsa.EncodeKey(ch.LeafKey)
	if err != nil {
		return err
	}
	rootKey, err := tsa.EncodeKey(ch.RootKey)
	if err != nil {
		return err
	}
	// The keys first: a chain without its key would be refused at the next start.
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{tsaRootKeyFile, rootKey, 0o600},
		{tsaKeyFile, leafKey, 0o600},
		{tsaChainFile, tsa.EncodeCertificates(ch.Leaf, ch.Root), 0o644},
	} {
		if err := os.WriteFile(filepath.Join(data, f.name), f.data, f.mode); err != nil {
			return usageError("saving the TSA chain: %v", err)
		}
	}
	log.Info("made a TSA certificate chain; its root is what verifiers trust (GET /tsa/certchain)",
		"chain", chainPath, "root_sha256", fmt.Sprintf("%X", sha256.Sum256(ch.Root.Raw)))
	return nil
}

// readToken reads path and parses it if it is a DER time-stamp response or token (it
// starts with a SEQUENCE, whatever its name). ok is false, with no error, for any other file.
func readToken(path string) (t *tsa.Token, ok bool, err error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, false, &cliError{code: exitUsage, err: err}
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, tsa.MaxTokenSize+1))
	if err != nil {
		return nil, false, &cliError{code: exitUsage, err: fmt.Errorf("reading %s: %v", path, err)}
	}
	if len(data) == 0 || data[0] != 0x30 {
		return nil, false, nil
	}
	bad := func(err error) error {
		return &cliError{code: exitInvalid, err: fmt.Errorf("%s: %v", path, err),
			hint: "is this an RFC 3161 token (FILE.tsr)? it may be truncated or altered"}
	}
	resp, errResp := tsa.ParseResponse(data)
	if errResp == nil {
		if resp.Token == nil {
			return nil, true, bad(fmt.Errorf("the response holds no token: PKIStatus %d, %v %q", resp.Status, resp.FailInfo, resp.StatusText))
		}
		return resp.Token, true, nil
	}
	t, err = tsa.ParseToken(data)
	if err != nil {
		return nil, true, bad(errResp)
	}
	return t, true, nil
}

// tokenCheck is what verify is told about a token.
type tokenCheck struct {
	caFile    string // --tsa-ca
	proofFile string // --proof
	keys      note.Verifiers
	src       blockSources
}

// verifyToken checks a token: its signature and certificate (against --tsa-ca, else the
// certificate it carries, which it says), its imprint against the document, and, given
// the complete notary proof of its imprint (--proof, else TOKEN.proof.json if there), that
// Bitcoin committed the imprint no later than the block's time.
func verifyToken(ctx context.Context, tok *tsa.Token, path, doc string, c tokenCheck, stdout io.Writer) error {
	say := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	info := tok.Info
	opts := tsa.VerifyOptions{Roots: x509.NewCertPool()}
	ownCert := c.caFile == ""
	if ownCert {
		signer := tokenSigner(tok)
		if signer == nil {
			return &cliError{code: exitUsage, err: errors.New("the token does not carry the TSA's certificate, so there is nothing to check its signature with"),
				hint: "pass the TSA's chain with --tsa-ca (from the notary: GET /tsa/certchain)"}
		}
		opts.Roots.AddCert(signer)
	} else {
		pemData, err := os.ReadFile(c.caFile)
		if err != nil {
			return &cliError{code: exitUsage, err: err}
		}
		certs, err := tsa.ParseCertificates(pemData)
		if err != nil {
			return usageError("--tsa-ca %s: %v", c.caFile, err)
		}
		// The roots of the file are trusted, or, if it has none, each of its certificates.
		roots := 0
		for _, cert := range certs {
			if bytes.Equal(cert.RawIssuer, cert.RawSubject) && cert.CheckSignatureFrom(cert) == nil {
				opts.Roots.AddCert(cert)
				roots++
			}
		}
		if roots == 0 {
			for _, cert := range certs {
				opts.Roots.AddCert(cert)
			}
		}
		opts.Certificates = certs
	}
	chain, err := tok.Verify(opts)
	if err != nil {
		hint := "the token is not the trusted TSA's, or was altered"
		if ownCert {
			hint = "the token is corrupt or was altered"
		}
		return &cliError{code: exitInvalid, err: err, hint: hint}
	}
	if doc != "" {
		f, err := os.Open(doc)
		if err != nil {
			return &cliError{code: exitUsage, err: err}
		}
		err = info.CheckData(f)
		f.Close()
		if errors.Is(err, tsa.ErrImprintMismatch) {
			return &cliError{code: exitInvalid, err: fmt.Errorf("the document's %s is not the token's imprint %X", info.Hash, info.HashedMessage),
				hint: "a token is for the exact bytes that were time-stamped; check that this is the original file"}
		}
		if err != nil {
			return &cliError{code: exitUsage, err: fmt.Errorf("reading %s: %v", doc, err)}
		}
		say("ok   the document's %s is the token's imprint", info.Hash)
	} else {
		say("--   no document given: checking the token for imprint %X only", info.HashedMessage)
	}
	leaf := chain[0]
	genTime := info.GenTime.Format("2006-01-02T15:04:05.000Z07:00")
	if ownCert {
		say("ok   the token is signed by the certificate it carries, %q, at %s (serial number %#x)", leaf.Subject.CommonName, genTime, info.SerialNumber)
		say("--   NOT checked: that %q (SHA-256 %X) is a TSA you trust; no --tsa-ca given, so the certificate the token carries was trusted", leaf.Subject.CommonName, sha256.Sum256(leaf.Raw))
	} else {
		say("ok   the token is signed by %q, which chains to %q of %s, at %s (serial number %#x)",
			leaf.Subject.CommonName, chain[len(chain)-1].Subject.CommonName, c.caFile, genTime, info.SerialNumber)
	}

	proofPath, found := c.proofFile, false
	if proofPath == "" {
		proofPath = path + ".proof.json"
		if _, err := os.Stat(proofPath); err != nil {
			return tokenPending(ownCert, path)
		}
		found = true
	}
	p, _, err := readProof(proofPath)
	if err != nil {
		return err
	}
	if found {
		say("--   the proof of its imprint: %s", proofPath)
	}
	if want := notary.Digest(tsa.EntryDigest(info.Hash, info.HashedMessage)); p.Digest != want {
		return &cliError{code: exitInvalid, err: fmt.Errorf("the proof is for digest %s; the token's imprint is logged as %s", p.Digest, want),
			hint: "give the proof \"notary upgrade " + path + "\" saves for this token"}
	}
	if !p.Complete() {
		return tokenPending(ownCert, path)
	}
	chainLine, err := checkChain(ctx, p.Bitcoin.Network, c.src)
	if err != nil {
		return err
	}
	keys := c.keys
	if keys == nil {
		keys = p.OwnKey()
	}
	v, err := notary.Verify(p, keys)
	if err != nil {
		return &cliError{code: exitInvalid, err: err, hint: "the proof file is corrupt or was altered; fetch it again (notary upgrade)"}
	}
	say("ok   the imprint is entry %d of the log %s, committed by transaction %s in block %s (height %d, network %s)",
		v.Index, v.Origin, notary.ReverseHex(v.TxID), notary.ReverseHex(v.BlockHash), v.Height, v.Network)
	if index, ok := tsa.SerialIndex(info.SerialNumber); ok && index == v.Index && v.Received.Equal(info.GenTime) {
		say("ok   the token's serial number names that entry, and its time is the entry's")
	} else {
		say("--   the token's serial number and time do not name that entry: the token is not this log's own, the proof still covers its imprint")
	}
	checked, err := checkBestChain(ctx, v, c.src.node, c.src.explorer, c.src.trusted)
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
	say("The document existed at %s by the TSA's word, and no later than %s (time of block %d) by Bitcoin.",
		genTime, v.BlockTime.Format(time.RFC3339), v.Height)
	if c.src == (blockSources{}) {
		return &cliError{code: exitUnchecked, note: true,
			err:  errors.New("the block was not checked against any chain source: the proof shows work on a header, not that Bitcoin accepted it"),
			hint: "pass --node (your own node), --explorer or --block to check it"}
	}
	return nil
}

// tokenPending is the outcome of a valid token without a complete proof: it rests on the
// TSA's signature.
func tokenPending(ownCert bool, path string) error {
	hint := "run \"notary upgrade --server URL " + path + "\" once the notary has anchored its imprint, then verify again"
	if ownCert {
		return &cliError{code: exitPendingOwnKey, note: true,
			err:  errors.New("the token is valid, but without a complete proof it rests on the signature of the certificate it carries, which you did not say you trust"),
			hint: "pass the TSA's root with --tsa-ca (from the notary: GET /tsa/certchain); " + hint}
	}
	return &cliError{code: exitPending, note: true,
		err: errors.New("the token is valid; without a complete proof it rests on the signature of the TSA you trust"), hint: hint}
}

// tokenSigner returns the certificate a token carries that signed it, or nil.
func tokenSigner(tok *tsa.Token) *x509.Certificate {
	for _, c := range tok.Certificates {
		pool := x509.NewCertPool()
		pool.AddCert(c)
		if chain, err := tok.Verify(tsa.VerifyOptions{Roots: pool}); err == nil {
			return chain[0]
		}
	}
	return nil
}

// upgradeToken fetches the complete proof of a token's imprint from the notary at server
// and saves it as TOKEN.proof.json, with TOKEN.ots for a SHA-256 imprint.
func upgradeToken(ctx context.Context, tok *tsa.Token, path, server string, stdout io.Writer) error {
	if server == "" {
		server = envOr("NOTARY_SERVER", defaultServer)
	}
	info := tok.Info
	d := notary.Digest(tsa.EntryDigest(info.Hash, info.HashedMessage))
	c := &client{base: strings.TrimSuffix(server, "/")}
	ts, err := c.lookup(ctx, d)
	if err != nil {
		return err
	}
	if ts.Status != service.StatusConfirmed || ts.Proof == nil || !ts.Proof.Complete() {
		msg := fmt.Sprintf("not complete yet: status %s", ts.Status)
		if ts.Anchor != nil {
			msg += fmt.Sprintf(", transaction %s with %d confirmation(s)", ts.Anchor.TxID, ts.Anchor.Confirmations)
		}
		fmt.Fprintln(stdout, msg)
		return &cliError{code: exitPending, note: true, err: errors.New("the token's imprint has no complete proof yet"), hint: "try again after the next blocks"}
	}
	v, err := notary.Verify(ts.Proof, ts.Proof.OwnKey())
	if err != nil {
		return &cliError{code: exitInvalid, err: fmt.Errorf("the service sent a proof that does not verify: %v", err)}
	}
	if v.Digest != d {
		return &cliError{code: exitInvalid, err: errors.New("the service sent a proof of another digest than the token's imprint")}
	}
	if index, ok := tsa.SerialIndex(info.SerialNumber); !ok || index != v.Index || !v.Received.Equal(info.GenTime) {
		return &cliError{code: exitInvalid, err: fmt.Errorf("the service's entry %d for this imprint is not the one the token names", v.Index),
			hint: "is --server the notary that issued the token?"}
	}
	out := path + ".proof.json"
	if err := writeProof(out, ts.Proof); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "saved %s: complete, block %d\n", out, v.Height)
	if info.Hash.Size() == sha256.Size && bytes.Equal(info.HashedMessage, d[:]) {
		if otsOut, err := writeProofOTS(out, ts.Proof, server); err != nil {
			fmt.Fprintf(stdout, "note: no .ots file: %v\n", err)
		} else {
			fmt.Fprintf(stdout, "saved %s (OpenTimestamps)\n", otsOut)
		}
	}
	return nil
}

// infoToken describes a token without verifying it.
func infoToken(tok *tsa.Token, stdout io.Writer) error {
	w := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	info := tok.Info
	w("RFC 3161 time-stamp token (not verified: notary verify checks it)")
	w("  imprint (%s)  %X", info.Hash, info.HashedMessage)
	w("  time             %s", info.GenTime.Format("2006-01-02T15:04:05.000Z07:00"))
	if info.Accuracy > 0 {
		w("  accuracy         ±%s", info.Accuracy)
	}
	w("  policy           %s", info.Policy)
	w("  serial number    %#x", info.SerialNumber)
	if index, ok := tsa.SerialIndex(info.SerialNumber); ok {
		w("  log entry        %d, if a notary issued it (the serial number's top bits)", index)
	}
	w("  log digest       %s (GET /v1/timestamps/DIGEST on the notary)", notary.Digest(tsa.EntryDigest(info.Hash, info.HashedMessage)))
	if info.Nonce != nil {
		w("  nonce            %#x", info.Nonce)
	}
	for _, c := range tok.Certificates {
		w("  certificate      %q, issued by %q, SHA-256 %X", c.Subject.CommonName, c.Issuer.CommonName, sha256.Sum256(c.Raw))
	}
	if len(tok.Certificates) == 0 {
		w("  certificate      none carried (verify needs --tsa-ca)")
	}
	return nil
}
