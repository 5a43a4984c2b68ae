package notary

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"time"

	"github.com/notary-dev/notary/internal/strictjson"
	"github.com/notary-dev/notary/merkle"
)

// ProofFormat names version 1 of the JSON proof format, specified in docs/proof-format.md.
const ProofFormat = "notary-proof/v1"

// MaxProofSize is the largest proof file ParseProof accepts.
const MaxProofSize = 1 << 20

// maxPathLength bounds inclusion paths and block branches: 64 levels cover any log or block.
const maxPathLength = 64

// Proof is a proof that a digest was logged, and, once its Bitcoin section is present, that
// it existed when a Bitcoin block was mined. It is self-contained: checking it needs neither
// the service nor, except for the last step (is the block in the best chain?), the network.
type Proof struct {
	Format  string        `json:"format"`
	Digest  Digest        `json:"digest"`
	Entry   ProofEntry    `json:"entry"`
	Log     ProofLog      `json:"log"`
	Bitcoin *ProofBitcoin `json:"bitcoin,omitempty"`
	// Service is where the proof can be upgraded: the base URL of the notary that issued it.
	Service string `json:"service,omitempty"`
}

// ProofEntry is the log entry of the digest, less the digest itself.
type ProofEntry struct {
	Index      int64    `json:"index"`
	ReceivedMS int64    `json:"received_ms"`
	Nonce      hexBytes `json:"nonce"`
}

// ProofLog proves the entry is in the log: a signed checkpoint and the inclusion path to its root.
type ProofLog struct {
	Key        string        `json:"key"`        // the log's verifier key (signed-note vkey)
	Checkpoint string        `json:"checkpoint"` // signed note: origin, size, base64 root
	Inclusion  []merkle.Hash `json:"inclusion"`  // RFC 9162 audit path, bottom-up
}

// ProofBitcoin proves the checkpoint's root is committed in a Bitcoin block.
type ProofBitcoin struct {
	Network string        `json:"network"`  // one of Networks(), exactly
	Tx      hexBytes      `json:"tx"`       // non-witness serialization
	TxIndex int           `json:"tx_index"` // position in the block
	Branch  []merkle.Hash `json:"branch"`   // block Merkle branch, bottom-up, internal byte order
	Header  hexBytes      `json:"header"`   // 80-byte block header
	Height  int64         `json:"height"`
}

// Complete reports whether the proof reaches a Bitcoin block.
func (p *Proof) Complete() bool { return p.Bitcoin != nil }

// LogEntry returns the log entry the proof is about.
func (p *Proof) LogEntry() (Entry, error) {
	if len(p.Entry.Nonce) != 16 {
		return Entry{}, fmt.Errorf("nonce must be 16 bytes, got %d", len(p.Entry.Nonce))
	}
	e := Entry{Index: p.Entry.Index, Digest: p.Digest, Time: time.UnixMilli(p.Entry.ReceivedMS).UTC()}
	copy(e.Nonce[:], p.Entry.Nonce)
	return e, nil
}

// MarshalProof encodes p as indented JSON with a trailing newline.
func MarshalProof(p *Proof) ([]byte, error) {
	var b bytes.Buffer
	if err := json.Indent(&b, p.AppendJSON(nil), "", "  "); err != nil {
		return nil, fmt.Errorf("notary: encoding proof: %v", err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// ParseProof decodes a proof file strictly: a known format, a known network, no unknown
// fields, no trailing data, at most MaxProofSize bytes. It checks the form, not the content: call Verify for that.
func ParseProof(data []byte) (*Proof, error) {
	if len(data) > MaxProofSize {
		return nil, &VerifyError{Step: StepFormat, Err: fmt.Errorf("file is %d bytes, more than %d", len(data), MaxProofSize)}
	}
	var p Proof
	if err := decodeStrict(data, &p); err != nil {
		return nil, &VerifyError{Step: StepFormat, Err: fmt.Errorf("not a notary proof: %v", err)}
	}
	if p.Format != ProofFormat {
		return nil, &VerifyError{Step: StepFormat, Err: fmt.Errorf("format %q is not %q", p.Format, ProofFormat)}
	}
	if err := p.checkFields(); err != nil {
		return nil, err
	}
	if len(p.Log.Inclusion) > maxPathLength || (p.Bitcoin != nil && len(p.Bitcoin.Branch) > maxPathLength) {
		return nil, &VerifyError{Step: StepFormat, Err: errors.New("a Merkle path is longer than 64 hashes")}
	}
	return &p, nil
}

// checkFields returns a format error if the proof names a network that is not one of the
// documented ones, spelled exactly, or gives a service that is not an http(s) URL.
func (p *Proof) checkFields() error {
	if p.Bitcoin != nil {
		if _, ok := LookupNetwork(p.Bitcoin.Network); !ok {
			return &VerifyError{Step: StepFormat, Err: fmt.Errorf("network %q is not one of %s", p.Bitcoin.Network, networkNames())}
		}
	}
	if p.Service != "" {
		if err := CheckServiceURL(p.Service); err != nil {
			return &VerifyError{Step: StepFormat, Err: err}
		}
	}
	return nil
}

// CheckServiceURL reports whether u may be a proof's service: an http or https URL of a
// host name or an IPv6 address, in printable ASCII (docs/proof-format.md).
func CheckServiceURL(u string) error {
	if !serviceURL.MatchString(u) {
		return fmt.Errorf("service %q is not an http or https URL", u)
	}
	return nil
}

// serviceURL is the form of a proof's service: http or https, a host name (ASCII letters,
// digits, dots, hyphens) or an IPv6 address in brackets, an optional port, and an optional
// path, query or fragment of printable ASCII without spaces.
var serviceURL = regexp.MustCompile(`^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?([/?#][\x21-\x7e]*)?$`)

// hexBytes is a byte slice that JSON encodes as lower-case hex.
type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

func (h *hexBytes) UnmarshalText(text []byte) error {
	b, err := hex.DecodeString(string(text))
	if err != nil {
		return fmt.Errorf("not hex: %v", err)
	}
	*h = b
	return nil
}

// MarshalText encodes d as lower-case hex.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText decodes a 64-character hex digest.
func (d *Digest) UnmarshalText(text []byte) error {
	parsed, err := ParseDigest(string(text))
	if err != nil {
		return err
	}
	*d = parsed
	return nil
}

// leafOps returns the operations from the digest to the entry's leaf hash:
// SHA-256(0x00 ‖ version ‖ digest ‖ time ‖ nonce).
func leafOps(e Entry) []merkle.Op {
	suffix := binary.BigEndian.AppendUint64(nil, uint64(e.Time.UnixMilli()))
	suffix = append(suffix, e.Nonce[:]...)
	return []merkle.Op{
		{Code: merkle.OpPrepend, Arg: []byte{0x00, EntryVersion}},
		{Code: merkle.OpAppend, Arg: suffix},
		{Code: merkle.OpSHA256},
	}
}

// decodeStrict decodes one JSON value into v and refuses anything a canonical proof file
// would not hold: what strictjson.Decode refuses (invalid UTF-8, an escaped lone surrogate,
// unknown fields, a key twice, the number -0, trailing data), keys in another case and
// upper-case hex.
func decodeStrict(data []byte, v any) error {
	if err := strictjson.Decode(data, v); err != nil {
		return err
	}
	// The decoder matches keys case-insensitively and hex in either case: compare the
	// input with its own canonical re-encoding to catch both.
	canonical, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var got, want any
	if json.Unmarshal(data, &got) != nil || json.Unmarshal(canonical, &want) != nil || !reflect.DeepEqual(got, want) {
		return errors.New("not in canonical form (key names are lower case, hex is lower case)")
	}
	return nil
}
