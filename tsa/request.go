package tsa

import (
	"crypto"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// MaxRequestSize is the largest TimeStampReq ParseRequest takes. A request holds a digest
// of at most 64 bytes, a nonce and a policy: a few hundred bytes.
const MaxRequestSize = 4 << 10

// MaxNonceSize is the longest nonce, in bytes, a request may carry.
const MaxNonceSize = 64

// Request is a parsed TimeStampReq (RFC 3161, section 2.4.1).
type Request struct {
	Hash          crypto.Hash // crypto.SHA256, SHA384 or SHA512
	HashedMessage []byte      // the imprint: the digest of the datum, Hash.Size() bytes
	// Policy is the TSA policy asked for; the zero OID if none was.
	Policy x509.OID
	// Nonce is the request's nonce, echoed in the token; nil if it has none.
	Nonce *big.Int
	// CertReq asks for the TSA's certificate in the token.
	CertReq bool

	// imprint is the request's MessageImprint as it was sent, which the token repeats
	// (with or without NULL parameters); nil for a request made here.
	imprint []byte
}

// FailInfo is a PKIFailureInfo bit (RFC 3161, section 2.4.2).
type FailInfo int

// The failure information a rejection carries.
const (
	FailBadAlg              FailInfo = 0  // unrecognized or unsupported algorithm
	FailBadRequest          FailInfo = 2  // transaction not permitted or supported
	FailBadDataFormat       FailInfo = 5  // the data submitted has the wrong format
	FailTimeNotAvailable    FailInfo = 14 // the TSA's time source is not available
	FailUnacceptedPolicy    FailInfo = 15 // the requested TSA policy is not supported
	FailUnacceptedExtension FailInfo = 16 // the requested extension is not supported
	FailAddInfoNotAvailable FailInfo = 17 // the additional information requested is not available
	FailSystemFailure       FailInfo = 25 // the request cannot be handled due to a system failure
)

var failNames = map[FailInfo]string{
	FailBadAlg: "badAlg", FailBadRequest: "badRequest", FailBadDataFormat: "badDataFormat",
	FailTimeNotAvailable: "timeNotAvailable", FailUnacceptedPolicy: "unacceptedPolicy",
	FailUnacceptedExtension: "unacceptedExtension", FailAddInfoNotAvailable: "addInfoNotAvailable",
	FailSystemFailure: "systemFailure",
}

func (f FailInfo) String() string {
	if n, ok := failNames[f]; ok {
		return n
	}
	return fmt.Sprintf("failInfo(%d)", int(f))
}

// RequestError is why a request is refused: the failure information of the rejection and
// a message that says what to change.
type RequestError struct {
	Fail FailInfo
	Msg  string
}

func (e *RequestError) Error() string { return "tsa: " + e.Msg + " (" + e.Fail.String() + ")" }

func reqErr(f FailInfo, format string, args ...any) error {
	return &RequestError{Fail: f, Msg: fmt.Sprintf(format, args...)}
}

// ParseRequest parses a DER TimeStampReq of at most MaxRequestSize bytes. It returns a
// *RequestError for anything it refuses: FailBadDataFormat for what is not DER of a
// TimeStampReq (BER, trailing data, a version other than 1, an explicit certReq FALSE,
// an oversized nonce), FailBadAlg for an imprint algorithm other than SHA-256, SHA-384
// and SHA-512 or a digest of the wrong length, FailUnacceptedExtension for any extension
// (notary knows none).
func ParseRequest(der []byte) (*Request, error) {
	if len(der) > MaxRequestSize {
		return nil, reqErr(FailBadRequest, "the request is larger than %d bytes", MaxRequestSize)
	}
	s := cryptobyte.String(der)
	var body cryptobyte.String
	if !s.ReadASN1(&body, asn1.SEQUENCE) {
		return nil, reqErr(FailBadDataFormat, "the request is not a DER TimeStampReq")
	}
	if !s.Empty() {
		return nil, reqErr(FailBadDataFormat, "the request has %d bytes after the TimeStampReq", len(s))
	}
	var version int64
	if !body.ReadASN1Integer(&version) {
		return nil, reqErr(FailBadDataFormat, "the TimeStampReq has no version")
	}
	if version != 1 {
		return nil, reqErr(FailBadDataFormat, "the TimeStampReq has version %d; only version 1 exists", version)
	}
	r := new(Request)
	var imprint cryptobyte.String
	if !body.ReadASN1Element(&imprint, asn1.SEQUENCE) {
		return nil, reqErr(FailBadDataFormat, "the request has no message imprint")
	}
	r.imprint = imprint
	if err := readImprint(&imprint, &r.Hash, &r.HashedMessage); err != nil {
		return nil, err
	}
	if body.PeekASN1Tag(asn1.OBJECT_IDENTIFIER) {
		if !readOID(&body, &r.Policy) {
			return nil, reqErr(FailBadDataFormat, "the request's policy is not a DER object identifier")
		}
	}
	if body.PeekASN1Tag(asn1.INTEGER) {
		var raw cryptobyte.String
		if !body.ReadASN1(&raw, asn1.INTEGER) || len(raw) > MaxNonceSize {
			return nil, reqErr(FailBadDataFormat, "the request's nonce is not a DER integer of at most %d bytes", MaxNonceSize)
		}
		n, elem := new(big.Int), cryptobyte.String(encodeElement(asn1.INTEGER, raw))
		if !elem.ReadASN1Integer(n) {
			return nil, reqErr(FailBadDataFormat, "the request's nonce is not a DER integer")
		}
		r.Nonce = n
	}
	if body.PeekASN1Tag(asn1.BOOLEAN) {
		if !body.ReadASN1Boolean(&r.CertReq) {
			return nil, reqErr(FailBadDataFormat, "the request's certReq is not a DER boolean")
		}
		if !r.CertReq {
			return nil, reqErr(FailBadDataFormat, "the request encodes certReq FALSE, its default, which DER leaves out")
		}
	}
	if body.PeekASN1Tag(tagCtx0) {
		return nil, reqErr(FailUnacceptedExtension, "the request has extensions; this TSA supports none")
	}
	if !body.Empty() {
		return nil, reqErr(FailBadDataFormat, "the TimeStampReq has unexpected fields after its known ones")
	}
	return r, nil
}

// readImprint reads a MessageImprint.
func readImprint(s *cryptobyte.String, h *crypto.Hash, digest *[]byte) error {
	var imprint cryptobyte.String
	if !s.ReadASN1(&imprint, asn1.SEQUENCE) || !s.Empty() {
		return reqErr(FailBadDataFormat, "the message imprint is not a DER MessageImprint")
	}
	var alg cryptobyte.String
	if !imprint.ReadASN1(&alg, asn1.SEQUENCE) {
		return reqErr(FailBadDataFormat, "the message imprint has no hash algorithm")
	}
	var oidAlg x509.OID
	if !readOID(&alg, &oidAlg) {
		return reqErr(FailBadDataFormat, "the imprint's hash algorithm is not a DER object identifier")
	}
	if !alg.Empty() {
		var null cryptobyte.String
		if !alg.ReadASN1(&null, asn1.NULL) || !null.Empty() || !alg.Empty() {
			return reqErr(FailBadAlg, "the imprint's hash algorithm %s has parameters; it takes none or NULL", oidAlg)
		}
	}
	found := false
	for _, x := range hashes {
		if oidAlg.EqualASN1OID(x.oid) {
			*h, found = x.hash, true
		}
	}
	if !found {
		return reqErr(FailBadAlg, "the imprint's hash algorithm %s is not SHA-256, SHA-384 or SHA-512", oidAlg)
	}
	if !imprint.ReadASN1Bytes(digest, asn1.OCTET_STRING) {
		return reqErr(FailBadDataFormat, "the message imprint has no hashed message")
	}
	if !imprint.Empty() {
		return reqErr(FailBadDataFormat, "the message imprint has unexpected fields")
	}
	if len(*digest) != h.Size() {
		return reqErr(FailBadAlg, "the hashed message has %d bytes; %s digests have %d", len(*digest), h, h.Size())
	}
	return nil
}

// encodeElement returns the DER element of tag and contents.
func encodeElement(tag asn1.Tag, contents []byte) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes(contents) })
	return b.BytesOrPanic()
}

// Marshal returns the DER TimeStampReq of r, with no extensions.
func (r *Request) Marshal() ([]byte, error) {
	oid, ok := oidOfHash(r.Hash)
	if !ok {
		return nil, fmt.Errorf("tsa: the hash %v is not SHA-256, SHA-384 or SHA-512", r.Hash)
	}
	if len(r.HashedMessage) != r.Hash.Size() {
		return nil, fmt.Errorf("tsa: the hashed message has %d bytes; %s digests have %d", len(r.HashedMessage), r.Hash, r.Hash.Size())
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddBytes(r.messageImprint(oid))
		if !r.Policy.Equal(x509.OID{}) {
			addOID(b, r.Policy)
		}
		if r.Nonce != nil {
			b.AddASN1BigInt(r.Nonce)
		}
		if r.CertReq {
			b.AddASN1Boolean(true)
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, errors.New("tsa: encoding the request: " + err.Error())
	}
	return der, nil
}

// messageImprint returns the DER MessageImprint of r: the one it was parsed from, else one
// with the hash algorithm oid and no parameters.
func (r *Request) messageImprint(oid encasn1.ObjectIdentifier) []byte {
	if r.imprint != nil {
		return r.imprint
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addAlgorithm(b, oid)
		b.AddASN1OctetString(r.HashedMessage)
	})
	return b.BytesOrPanic()
}
