package ots

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Tag is the 8-byte type of an attestation.
type Tag [8]byte

// The attestation types of the reference implementation. Litecoin and Ethereum ones are
// read as [Unknown] attestations, kept verbatim, and ordered as the reference orders them.
var (
	PendingTag  = Tag{0x83, 0xdf, 0xe3, 0x0d, 0x2e, 0xf9, 0x0c, 0x8e}
	BitcoinTag  = Tag{0x05, 0x88, 0x96, 0x0d, 0x73, 0xd7, 0x19, 0x01}
	LitecoinTag = Tag{0x06, 0x86, 0x9a, 0x0d, 0x73, 0xd7, 0x1b, 0x45}
	EthereumTag = Tag{0x30, 0xfe, 0x80, 0x87, 0xb5, 0xc7, 0xea, 0xd7}
)

// Limits of attestations, as in the reference implementation.
const (
	MaxPayloadLen = 8192 // bytes of an attestation's payload
	MaxURILen     = 1000 // bytes of a pending attestation's URI
)

// uriChars are the only characters a calendar URI may have: no query, fragment, user,
// percent-encoding or IPv6 brackets.
const uriChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._/:"

// An Attestation says that the message of the node it hangs off existed by some time.
// It is a [Pending], a [Bitcoin] or an [Unknown].
type Attestation interface {
	// Tag returns the attestation's type.
	Tag() Tag
	// Payload returns the attestation's payload as it is serialized, without the length.
	Payload() []byte
	// String returns the attestation as the reference implementation prints it.
	String() string
}

// Pending is an attestation that a calendar has the message and will complete the timestamp
// once it is in a Bitcoin block; the calendar answers GET URI/timestamp/<hex message>.
type Pending struct {
	URI string
}

// Tag returns PendingTag.
func (Pending) Tag() Tag { return PendingTag }

// Payload returns the URI as varbytes.
func (a Pending) Payload() []byte { return appendVarbytes(nil, []byte(a.URI)) }

func (a Pending) String() string { return "PendingAttestation('" + a.URI + "')" }

// Bitcoin is an attestation that the message is the Merkle root, in internal byte order, of
// the header of the Bitcoin block at Height in the best chain; the block's time is when the
// message existed by.
type Bitcoin struct {
	Height uint64
}

// Tag returns BitcoinTag.
func (Bitcoin) Tag() Tag { return BitcoinTag }

// Payload returns the height as a varuint.
func (a Bitcoin) Payload() []byte { return appendVaruint(nil, a.Height) }

func (a Bitcoin) String() string {
	return "BitcoinBlockHeaderAttestation(" + strconv.FormatUint(a.Height, 10) + ")"
}

// Unknown is an attestation of a type this package does not interpret, kept verbatim.
type Unknown struct {
	Kind Tag
	Data []byte // the payload
}

// Tag returns the attestation's type, Kind.
func (a Unknown) Tag() Tag { return a.Kind }

// Payload returns Data.
func (a Unknown) Payload() []byte { return a.Data }

func (a Unknown) String() string {
	if h, ok := heightOf(a); ok {
		switch a.Kind {
		case LitecoinTag:
			return fmt.Sprintf("LitecoinBlockHeaderAttestation(%d)", h)
		case EthereumTag:
			return fmt.Sprintf("EthereumBlockHeaderAttestation(%d)", h)
		}
	}
	return fmt.Sprintf("UnknownAttestation(%x, %x)", a.Kind[:], a.Data)
}

// CheckURI returns an error unless uri can be the URI of a pending attestation: at most
// MaxURILen bytes of letters, digits and "-._/:".
func CheckURI(uri string) error {
	if len(uri) > MaxURILen {
		return fmt.Errorf("ots: calendar URI of %d bytes, more than %d", len(uri), MaxURILen)
	}
	for i := 0; i < len(uri); i++ {
		if strings.IndexByte(uriChars, uri[i]) < 0 {
			return fmt.Errorf("ots: calendar URI %q has the character %q, which OpenTimestamps does not allow", uri, uri[i])
		}
	}
	return nil
}

// heightTag reports whether attestations of type t have a block height as their payload.
func heightTag(t Tag) bool { return t == BitcoinTag || t == LitecoinTag || t == EthereumTag }

// heightOf returns the height of an attestation whose payload is one varuint.
func heightOf(a Attestation) (uint64, bool) {
	if b, ok := a.(Bitcoin); ok {
		return b.Height, true
	}
	if !heightTag(a.Tag()) {
		return 0, false
	}
	d := decoder{b: a.Payload()}
	h, err := d.varuint()
	if err != nil || d.off != len(d.b) {
		return 0, false
	}
	return h, true
}

// checkAttestation returns an error unless a serializes into something the reference reads
// back as the same attestation.
func checkAttestation(a Attestation) error {
	switch a := a.(type) {
	case Pending:
		return CheckURI(a.URI)
	case Bitcoin:
		return nil
	case Unknown:
		if len(a.Data) > MaxPayloadLen {
			return fmt.Errorf("ots: attestation payload of %d bytes, more than %d", len(a.Data), MaxPayloadLen)
		}
		if a.Kind == PendingTag || a.Kind == BitcoinTag {
			return fmt.Errorf("ots: an unknown attestation has the tag of a known one (%x)", a.Kind[:])
		}
		if heightTag(a.Kind) {
			if _, ok := heightOf(a); !ok {
				return fmt.Errorf("ots: %x attestation payload %x is not a block height", a.Kind[:], a.Data)
			}
		}
		return nil
	case nil:
		return fmt.Errorf("ots: nil attestation")
	}
	return fmt.Errorf("ots: attestation type %T is not Pending, Bitcoin or Unknown", a)
}

// compareAttestations orders attestations as the reference does: by tag, then pending ones
// by URI, block ones by height, unknown ones by payload.
func compareAttestations(a, b Attestation) int {
	ta, tb := a.Tag(), b.Tag()
	if c := bytes.Compare(ta[:], tb[:]); c != 0 {
		return c
	}
	if pa, ok := a.(Pending); ok {
		if pb, ok := b.(Pending); ok {
			return cmp.Compare(pa.URI, pb.URI)
		}
	}
	if heightTag(ta) {
		ha, okA := heightOf(a)
		hb, okB := heightOf(b)
		if okA && okB {
			return cmp.Compare(ha, hb)
		}
	}
	return bytes.Compare(a.Payload(), b.Payload())
}

// sameAttestation reports whether a and b are the same attestation.
func sameAttestation(a, b Attestation) bool {
	return a.Tag() == b.Tag() && bytes.Equal(a.Payload(), b.Payload())
}

// String returns t in hex.
func (t Tag) String() string { return hex.EncodeToString(t[:]) }
