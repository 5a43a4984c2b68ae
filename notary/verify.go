package notary

import (
	"bytes"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
)

// The steps of verification, in order. A VerifyError names the one that failed.
const (
	StepFormat      = "format"      // the file is a well-formed proof
	StepEntry       = "entry"       // the entry is well formed
	StepCheckpoint  = "checkpoint"  // the checkpoint is signed by the key the proof names
	StepKey         = "key"         // that key is one the caller trusts (required of pending proofs)
	StepInclusion   = "inclusion"   // the entry's leaf is in the checkpoint's tree
	StepTransaction = "transaction" // the transaction commits the checkpoint's root in an OP_RETURN
	StepBlock       = "block"       // the transaction is in the block whose header is given
	StepWork        = "work"        // the header meets its stated target, within its network's limit
	// StepWitness is checked after the others, by VerifyWitnesses, when the caller requires
	// witnesses: the checkpoint carries enough cosignatures by witnesses the caller trusts.
	StepWitness = "witness"
)

// VerifyError says which step of verification failed and why.
type VerifyError struct {
	Step string
	Err  error
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("notary: %s check failed: %v", e.Step, e.Err)
}
func (e *VerifyError) Unwrap() error { return e.Err }

// NotTrustedError is the cause of a failed StepKey: a pending proof whose checkpoint is not
// signed by a key the caller trusts. Anyone can make a key, name it after a log and sign a
// checkpoint with it; until a Bitcoin block commits the entry, a pending proof is worth the
// signature of the key alone.
type NotTrustedError struct {
	Key string // the verifier key the proof names
}

func (e *NotTrustedError) Error() string {
	return fmt.Sprintf("the proof is pending and its checkpoint is signed by %s, not by a key you trust", e.Key)
}

// Verified is what a successful verification established.
type Verified struct {
	Digest   Digest
	Index    int64
	Received time.Time // when the service says it received the digest (trusting the service)
	Origin   string    // the log
	Key      string    // the log's verifier key, as given in the proof
	LogSize  int64
	LogRoot  merkle.Hash
	// KeyTrusted reports whether a key the caller trusts signed the checkpoint. It is always
	// true of a pending proof; a complete proof rests on Bitcoin, and verifies without it.
	KeyTrusted bool

	// Set only for complete proofs.
	Complete  bool
	Network   string
	TxID      merkle.Hash // internal byte order; ReverseHex prints it as explorers do
	BlockHash merkle.Hash // internal byte order
	Height    int64
	BlockTime time.Time // the document existed no later than about this time
	Header    Header
}

// Verify checks every step of p that needs no network: digest → leaf → log root (signed
// checkpoint) and, for a complete proof, root → OP_RETURN → txid → block Merkle root → header
// and its proof of work, within its network's proof-of-work limit. What it cannot check
// offline is that the header is in Bitcoin's best chain at Height; callers do that against a
// node or a header they trust.
//
// trusted are the log keys the caller trusts, as note.Open takes them (nil trusts none). A
// pending proof verifies only if one of them, the one with the name and hash of the key the
// proof names, signed its checkpoint: otherwise Verify fails at StepKey with a
// *NotTrustedError. A complete proof verifies whoever signed it, and Verified.KeyTrusted says
// whether a trusted key did. To trust the key a proof names, pass p.OwnKey(), and say so.
//
// It returns a *VerifyError naming the first step that failed.
func Verify(p *Proof, trusted note.Verifiers) (*Verified, error) {
	fail := func(step string, format string, args ...any) (*Verified, error) {
		return nil, &VerifyError{Step: step, Err: fmt.Errorf(format, args...)}
	}
	if p.Format != ProofFormat {
		return fail(StepFormat, "format %q is not %q", p.Format, ProofFormat)
	}
	if err := p.checkFields(); err != nil {
		return nil, err
	}
	e, err := p.LogEntry()
	if err != nil {
		return fail(StepEntry, "%v", err)
	}
	if e.Index < 0 {
		return fail(StepEntry, "negative index %d", e.Index)
	}
	if p.Entry.ReceivedMS < 0 {
		return fail(StepEntry, "negative receive time %d", p.Entry.ReceivedMS)
	}
	leaf := e.LeafHash()

	cp, err := OpenCheckpoint([]byte(p.Log.Checkpoint), p.Log.Key)
	if err != nil {
		return fail(StepCheckpoint, "%v", err)
	}
	keyTrusted := signedByTrusted(cp.Note, p.Log.Key, trusted)
	if !keyTrusted && p.Bitcoin == nil {
		return nil, &VerifyError{Step: StepKey, Err: &NotTrustedError{Key: p.Log.Key}}
	}
	if e.Index >= cp.Size {
		return fail(StepInclusion, "entry %d is not in a log of size %d", e.Index, cp.Size)
	}
	if err := merkle.VerifyInclusion(e.Index, cp.Size, leaf, cp.Root, p.Log.Inclusion); err != nil {
		return fail(StepInclusion, "%v", err)
	}
	v := &Verified{
		Digest: e.Digest, Index: e.Index, Received: e.Time,
		Origin: cp.Origin, Key: p.Log.Key, LogSize: cp.Size, LogRoot: cp.Root, KeyTrusted: keyTrusted,
	}

	b := p.Bitcoin
	if b == nil {
		return v, nil
	}
	if _, err := findCommitment(b.Tx, cp.Root); err != nil {
		return fail(StepTransaction, "%v", err)
	}
	txid := merkle.DoubleSHA256(b.Tx)
	if len(b.Header) != HeaderSize {
		return fail(StepBlock, "header is %d bytes, not %d", len(b.Header), HeaderSize)
	}
	if b.TxIndex < 0 || (len(b.Branch) < 64 && b.TxIndex >= 1<<len(b.Branch)) {
		return fail(StepBlock, "transaction index %d does not fit a branch of %d hashes", b.TxIndex, len(b.Branch))
	}
	h := Header(b.Header)
	if got := merkle.BlockRootFromBranch(txid, b.TxIndex, b.Branch); got != h.MerkleRoot() {
		return fail(StepBlock, "transaction %s is not in block %s: its branch leads to %s, the header says %s",
			ReverseHex(txid), ReverseHex(h.Hash()), ReverseHex(got), ReverseHex(h.MerkleRoot()))
	}
	if err := h.CheckProofOfWork(b.Network); err != nil {
		return fail(StepWork, "%v", err)
	}
	if b.Height < 0 {
		return fail(StepBlock, "negative height %d", b.Height)
	}
	v.Complete = true
	v.Network = b.Network
	v.TxID = txid
	v.BlockHash = h.Hash()
	v.Height = b.Height
	v.BlockTime = h.Time()
	v.Header = h
	return v, nil
}

// signedByTrusted reports whether the checkpoint, signed by vkey, is signed by the trusted
// key of vkey's name and hash. The look-up is by name and hash, as note.Open's; the
// signature is then checked with the trusted key itself, so a made-up key that shares a
// trusted key's name and hash gains nothing.
func signedByTrusted(checkpoint []byte, vkey string, trusted note.Verifiers) bool {
	if trusted == nil {
		return false
	}
	if own, ok := trusted.(ownKey); ok && own.vkey == vkey {
		return true // OpenCheckpoint checked the signature with this very key
	}
	named, err := note.NewVerifier(vkey)
	if err != nil {
		return false
	}
	v, err := trusted.Verifier(named.Name(), named.KeyHash())
	if err != nil {
		return false
	}
	_, err = note.Open(checkpoint, note.VerifierList(v))
	return err == nil
}

// OwnKey returns the key the proof names, as the verifiers to pass to Verify: trusting
// whoever made the proof. It is what a verifier does when it has no key of the log to
// compare with, and it must say so; for a pending proof, that leaves nothing of worth.
func (p *Proof) OwnKey() note.Verifiers {
	v, err := note.NewVerifier(p.Log.Key)
	if err != nil {
		return ownKey{p.Log.Key, note.VerifierList()} // Verify then fails at StepCheckpoint
	}
	return ownKey{p.Log.Key, note.VerifierList(v)}
}

// ownKey is the key a proof names, as OwnKey returns it: Verify need not check the same
// signature with the same key twice.
type ownKey struct {
	vkey string
	note.Verifiers
}

// Ops returns the operations that take the digest to the commitment the proof ends in:
// the block header's Merkle root for a complete proof, the log root otherwise. Evaluated
// from the digest's 32 bytes they must give that value: this is the form an OpenTimestamps
// proof takes. It checks the proof as Verify does, trusting the key the proof names: it
// converts a proof, it does not vouch for it.
func (p *Proof) Ops() ([]merkle.Op, error) {
	v, err := Verify(p, p.OwnKey())
	if err != nil {
		return nil, err
	}
	e, _ := p.LogEntry()
	ops := leafOps(e)
	path, err := merkle.InclusionOps(v.Index, v.LogSize, p.Log.Inclusion)
	if err != nil {
		return nil, &VerifyError{Step: StepInclusion, Err: err}
	}
	ops = append(ops, path...)
	if !v.Complete {
		return ops, nil
	}
	off, _ := findCommitment(p.Bitcoin.Tx, v.LogRoot)
	tx := p.Bitcoin.Tx
	ops = append(ops,
		merkle.Op{Code: merkle.OpPrepend, Arg: bytes.Clone(tx[:off])},
		merkle.Op{Code: merkle.OpAppend, Arg: bytes.Clone(tx[off+merkle.HashSize:])},
		merkle.Op{Code: merkle.OpSHA256},
		merkle.Op{Code: merkle.OpSHA256},
	)
	return append(ops, merkle.BlockBranchOps(p.Bitcoin.TxIndex, p.Bitcoin.Branch)...), nil
}
