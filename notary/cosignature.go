package notary

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// cosignatureV1 is the signature type byte of a C2SP tlog-cosignature/v1 key.
const cosignatureV1 = 0x04

// CosignatureVerifier verifies the C2SP tlog-cosignature/v1 signatures of one witness key:
// Ed25519 over "cosignature/v1\ntime T\n" followed by the checkpoint's text, the signature
// being T (8 bytes, big-endian Unix seconds) then the 64-byte Ed25519 signature. It is a
// note.Verifier, so note.Open checks witness cosignatures as it checks the log's signature.
type CosignatureVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
	vkey string
}

// NewCosignatureVerifier parses a witness's verifier key, name+hash+base64(0x04‖key), in the
// one text form a key has (8 lower-case hex digits of hash, canonical base64). The hash
// must be the key's: the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x04 ‖ key).
func NewCosignatureVerifier(vkey string) (*CosignatureVerifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || name == "" || strings.ContainsAny(name, " \t\n+") {
		return nil, fmt.Errorf("notary: witness key %q is not name+hash+key", vkey)
	}
	if err := checkKeyForm(vkey); err != nil {
		return nil, fmt.Errorf("notary: witness key %q: %v", vkey, err)
	}
	h, _ := strconv.ParseUint(hash16, 16, 32)
	key, _ := base64.StdEncoding.DecodeString(key64)
	if len(key) != 1+ed25519.PublicKeySize || key[0] != cosignatureV1 {
		return nil, fmt.Errorf("notary: witness key %q is not a cosignature/v1 (type 0x04) Ed25519 key", vkey)
	}
	if uint32(h) != keyHash(name, key) {
		return nil, fmt.Errorf("notary: witness key %q: its hash is not the hash of its name and key", vkey)
	}
	return &CosignatureVerifier{name: name, hash: uint32(h), key: ed25519.PublicKey(key[1:]), vkey: vkey}, nil
}

// keyHash is the signed-note key hash of name and key (the key with its type byte).
func keyHash(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// Name returns the witness's name.
func (v *CosignatureVerifier) Name() string { return v.name }

// KeyHash returns the key's hash, which its cosignature lines carry.
func (v *CosignatureVerifier) KeyHash() uint32 { return v.hash }

// String returns the verifier key, as NewCosignatureVerifier took it.
func (v *CosignatureVerifier) String() string { return v.vkey }

// Verify reports whether sig, a timestamp and an Ed25519 signature, is the witness's
// cosignature of msg, a checkpoint's text.
func (v *CosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	signed := fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", t, msg)
	return ed25519.Verify(v.key, signed, sig[8:])
}

// Cosignature is a witness's cosignature that verified.
type Cosignature struct {
	Witness string    // the witness key's name
	Key     string    // the witness's verifier key
	Time    time.Time // when the witness says it cosigned (whole seconds)
}

// QuorumError says that a checkpoint has fewer valid cosignatures by the witnesses a
// verifier trusts than it requires.
type QuorumError struct {
	Want    int
	Have    []Cosignature
	Missing []string // the trusted witness keys that did not cosign
}

func (e *QuorumError) Error() string {
	return fmt.Sprintf("the checkpoint has %d valid cosignature(s) by the witnesses you trust, %d required; missing: %s",
		len(e.Have), e.Want, strings.Join(e.Missing, ", "))
}

// CheckCosignatures returns the cosignatures of signed, a signed checkpoint, by the witness
// keys given, in the order of their keys' text; lines of other keys are ignored. A line that bears the name and
// hash of a given key but does not verify with it is an error: the checkpoint was altered.
// A key given twice counts once. It requires at least quorum of them, else it returns them with a *QuorumError.
func CheckCosignatures(signed []byte, witnesses []*CosignatureVerifier, quorum int) ([]Cosignature, error) {
	witnesses = slices.Clone(witnesses)
	slices.SortStableFunc(witnesses, func(a, b *CosignatureVerifier) int { return strings.Compare(a.vkey, b.vkey) })
	witnesses = slices.CompactFunc(witnesses, func(a, b *CosignatureVerifier) bool { return a.vkey == b.vkey })
	if quorum > len(witnesses) {
		return nil, fmt.Errorf("notary: a quorum of %d witnesses out of %d keys cannot be met", quorum, len(witnesses))
	}
	var got []Cosignature
	var missing []string
	if len(witnesses) > 0 {
		vs := make([]note.Verifier, len(witnesses))
		for i, w := range witnesses {
			vs[i] = w
		}
		n, err := note.Open(signed, note.VerifierList(vs...))
		var unverified *note.UnverifiedNoteError
		switch {
		case errors.As(err, &unverified):
			n = unverified.Note
		case err != nil:
			return nil, fmt.Errorf("notary: witness cosignature: %v", err)
		}
		for _, w := range witnesses {
			i := slices.IndexFunc(n.Sigs, func(s note.Signature) bool { return s.Name == w.name && s.Hash == w.hash })
			if i < 0 {
				missing = append(missing, w.vkey)
				continue
			}
			raw, _ := base64.StdEncoding.DecodeString(n.Sigs[i].Base64)
			t := binary.BigEndian.Uint64(raw[4:])
			got = append(got, Cosignature{Witness: w.name, Key: w.vkey, Time: time.Unix(int64(min(t, 1<<62)), 0).UTC()})
		}
	}
	if len(got) < quorum {
		return got, &QuorumError{Want: quorum, Have: got, Missing: missing}
	}
	return got, nil
}

// VerifyWitnesses checks that the checkpoint of p, a proof Verify accepted, carries at least
// quorum valid cosignatures by the witnesses given, and returns them. It returns a
// *VerifyError at StepWitness otherwise, whose cause is a *QuorumError when too few
// witnesses cosigned. A pending proof rests on its checkpoint: witnesses that cosigned it
// saw the same log as everyone who asks them. A complete proof rests on Bitcoin; whether
// to require witnesses of it is the caller's choice.
func VerifyWitnesses(p *Proof, witnesses []*CosignatureVerifier, quorum int) ([]Cosignature, error) {
	got, err := CheckCosignatures([]byte(p.Log.Checkpoint), witnesses, quorum)
	if err != nil {
		return got, &VerifyError{Step: StepWitness, Err: err}
	}
	return got, nil
}
