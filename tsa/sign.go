package tsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// PKIStatus values (RFC 3161, section 2.4.2).
const (
	StatusGranted          = 0
	StatusGrantedWithMods  = 1
	StatusRejection        = 2
	StatusWaiting          = 3
	StatusRevocationWarn   = 4
	StatusRevocationNotice = 5
)

// Signer issues time-stamp tokens with one key and certificate. Its methods may be called
// from several goroutines at once.
type Signer struct {
	key      crypto.Signer
	chain    []*x509.Certificate
	policy   x509.OID
	accuracy time.Duration
	sigAlg   encasn1.ObjectIdentifier
	// Precomputed from the certificate: the signing-certificate-v2 attribute, the signer
	// identifier, the certificates a token carries when asked, the TSA's name.
	signingCert []byte
	sid         []byte
	certs       []byte
	tsaName     []byte
}

// SignerConfig configures a Signer.
type SignerConfig struct {
	// Key signs the tokens: an ECDSA P-256 or P-384 key, or an RSA key of 2048 bits or more.
	Key crypto.Signer
	// Chain is the TSA's certificate, then the certificates that issued it, up to the root
	// or short of it. Chain[0] must be for Key and have one extended key usage,
	// timeStamping, marked critical (RFC 3161, section 2.3).
	Chain []*x509.Certificate
	// Policy is the TSA policy every token names; the zero OID stands for DefaultPolicy.
	Policy x509.OID
	// Accuracy is how far genTime may be from the true time (under a second is given in
	// milliseconds); 0 states none.
	Accuracy time.Duration
}

// NewSigner checks cfg and returns its Signer.
func NewSigner(cfg SignerConfig) (*Signer, error) {
	if len(cfg.Chain) == 0 {
		return nil, errors.New("tsa: no certificate")
	}
	leaf := cfg.Chain[0]
	if err := CheckTSACertificate(leaf); err != nil {
		return nil, err
	}
	s := &Signer{key: cfg.Key, chain: cfg.Chain, policy: cfg.Policy, accuracy: cfg.Accuracy}
	if s.policy.Equal(x509.OID{}) {
		s.policy, _ = x509.ParseOID(DefaultPolicy)
	}
	if cfg.Accuracy < 0 {
		return nil, errors.New("tsa: negative accuracy")
	}
	switch k := cfg.Key.Public().(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, fmt.Errorf("tsa: the ECDSA key is on %s; use P-256 or P-384", k.Curve.Params().Name)
		}
		s.sigAlg = oidECDSAWithSHA256
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("tsa: the RSA key has %d bits; use 2048 or more", k.N.BitLen())
		}
		s.sigAlg = oidSHA256WithRSA
	default:
		return nil, fmt.Errorf("tsa: a %T key cannot sign tokens most clients accept; use ECDSA P-256 or RSA", k)
	}
	pub, ok := cfg.Key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return nil, errors.New("tsa: the key is not the certificate's")
	}

	certHash := sha256.Sum256(leaf.Raw)
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2, hash SHA-256 by default
				b.AddASN1OctetString(certHash[:])
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
						b.AddASN1(tagDirectoryName, func(b *cryptobyte.Builder) { b.AddBytes(leaf.RawIssuer) })
					})
					b.AddASN1BigInt(leaf.SerialNumber)
				})
			})
		})
	})
	s.signingCert = b.BytesOrPanic()

	b = cryptobyte.NewBuilder(nil)
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(leaf.RawIssuer)
		b.AddASN1BigInt(leaf.SerialNumber)
	})
	s.sid = b.BytesOrPanic()

	// The token carries the chain but a self-signed root, which a verifier must have.
	carried := cfg.Chain
	if last := carried[len(carried)-1]; len(carried) > 1 && bytes.Equal(last.RawIssuer, last.RawSubject) {
		carried = carried[:len(carried)-1]
	}
	raws := make([][]byte, len(carried))
	for i, c := range carried {
		raws[i] = c.Raw
	}
	slices.SortFunc(raws, bytes.Compare) // DER orders a SET OF by its encodings
	b = cryptobyte.NewBuilder(nil)
	b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) {
		for _, r := range raws {
			b.AddBytes(r)
		}
	})
	s.certs = b.BytesOrPanic()

	b = cryptobyte.NewBuilder(nil)
	b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) {
		b.AddASN1(tagDirectoryName, func(b *cryptobyte.Builder) { b.AddBytes(leaf.RawSubject) })
	})
	s.tsaName = b.BytesOrPanic()
	return s, nil
}

// CheckTSACertificate checks what RFC 3161 (section 2.3) asks of a TSA's certificate: one
// extended key usage, timeStamping, in a critical extension.
func CheckTSACertificate(c *x509.Certificate) error {
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidExtKeyUsage) {
			continue
		}
		if !ext.Critical {
			return errors.New("tsa: the certificate's extended key usage is not critical, as RFC 3161 requires")
		}
		if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(c.UnknownExtKeyUsage) != 0 {
			return errors.New("tsa: the certificate's extended key usage must be timeStamping alone")
		}
		return nil
	}
	return errors.New("tsa: the certificate has no extended key usage; RFC 3161 requires timeStamping, critical")
}

// Policy returns the TSA policy of the tokens.
func (s *Signer) Policy() x509.OID { return s.policy }

// Chain returns the TSA's certificate and its issuers.
func (s *Signer) Chain() []*x509.Certificate { return s.chain }

// CheckPolicy returns a *RequestError with FailUnacceptedPolicy if r asks for a policy
// other than the signer's.
func (s *Signer) CheckPolicy(r *Request) error {
	if !r.Policy.Equal(x509.OID{}) && !r.Policy.Equal(s.policy) {
		return reqErr(FailUnacceptedPolicy, "the request asks for policy %s; this TSA's is %s", r.Policy, s.policy)
	}
	return nil
}

// Respond returns the DER TimeStampResp that grants r: a token with serial number serial
// and genTime t (in UTC, to the millisecond), repeating the request's imprint and nonce,
// with the TSA's certificates if r asks for them, ordering false. The caller makes serial
// unique among the tokens of this TSA and checks the policy first (CheckPolicy).
func (s *Signer) Respond(r *Request, serial *big.Int, t time.Time) ([]byte, error) {
	token, err := s.Token(r, serial, t)
	if err != nil {
		return nil, err
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1Int64(StatusGranted) })
		b.AddBytes(token)
	})
	return b.Bytes()
}

// Token returns the DER TimeStampToken (a CMS ContentInfo) Respond would answer.
func (s *Signer) Token(r *Request, serial *big.Int, t time.Time) ([]byte, error) {
	oid, ok := oidOfHash(r.Hash)
	if !ok || len(r.HashedMessage) != r.Hash.Size() {
		return nil, errors.New("tsa: the request's imprint is not a SHA-256, SHA-384 or SHA-512 digest")
	}
	if serial == nil || serial.Sign() < 0 {
		return nil, errors.New("tsa: the serial number must be a non-negative integer")
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		addOID(b, s.policy)
		b.AddBytes(r.messageImprint(oid))
		b.AddASN1BigInt(serial)
		addGeneralizedTime(b, t)
		if s.accuracy > 0 {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				if sec := int64(s.accuracy / time.Second); sec > 0 {
					b.AddASN1Int64(sec)
				}
				if ms := int64(s.accuracy%time.Second) / 1e6; ms > 0 {
					b.AddASN1Int64WithTag(ms, tagImplicit0Primitive)
				}
			})
		}
		if r.Nonce != nil {
			b.AddASN1BigInt(r.Nonce)
		}
		b.AddBytes(s.tsaName)
	})
	tstInfo, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("tsa: encoding TSTInfo: %w", err)
	}
	return s.sign(tstInfo, r.CertReq)
}

// sign wraps tstInfo in a CMS SignedData signed by the TSA's key.
func (s *Signer) sign(tstInfo []byte, withCerts bool) ([]byte, error) {
	digest := sha256.Sum256(tstInfo)
	attrs := [][]byte{
		attribute(oidContentType, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidTSTInfo) }),
		attribute(oidMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest[:]) }),
		attribute(oidSigningCertV2, func(b *cryptobyte.Builder) { b.AddBytes(s.signingCert) }),
	}
	slices.SortFunc(attrs, bytes.Compare)
	// The signature covers the attributes as a SET OF; the SignerInfo holds them under [0].
	set := cryptobyte.NewBuilder(nil)
	set.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
		for _, a := range attrs {
			b.AddBytes(a)
		}
	})
	signed := set.BytesOrPanic()
	h := sha256.Sum256(signed)
	sig, err := s.key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("tsa: signing: %w", err)
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(3)
				b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) { addAlgorithm(b, oidSHA256) })
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncapsulatedContentInfo
					b.AddASN1ObjectIdentifier(oidTSTInfo)
					b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) { b.AddASN1OctetString(tstInfo) })
				})
				if withCerts {
					b.AddBytes(s.certs)
				}
				b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
						b.AddASN1Int64(1)
						b.AddBytes(s.sid)
						addAlgorithm(b, oidSHA256)
						b.AddASN1(tagCtx0, func(b *cryptobyte.Builder) { b.AddBytes(signed[len(signed)-setContentLen(signed):]) })
						if s.sigAlg.Equal(oidSHA256WithRSA) {
							b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddASN1ObjectIdentifier(s.sigAlg)
								b.AddASN1NULL()
							})
						} else {
							addAlgorithm(b, s.sigAlg)
						}
						b.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	return b.Bytes()
}

// setContentLen returns the length of the contents of the DER element der.
func setContentLen(der []byte) int {
	s := cryptobyte.String(der)
	var contents cryptobyte.String
	s.ReadASN1(&contents, asn1.SET)
	return len(contents)
}

// attribute returns a DER Attribute of one value.
func attribute(oid encasn1.ObjectIdentifier, value cryptobyte.BuilderContinuation) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(asn1.SET, value)
	})
	return b.BytesOrPanic()
}

// Reject returns the DER TimeStampResp that refuses a request: status rejection, the
// failure information fail and msg as its status string.
func Reject(fail FailInfo, msg string) []byte {
	b := cryptobyte.NewBuilder(nil)
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(StatusRejection)
			if msg != "" {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(msg)) })
				})
			}
			b.AddASN1(asn1.BIT_STRING, func(b *cryptobyte.Builder) {
				// DER's named bit list: no trailing zero bits.
				n := int(fail)/8 + 1
				bits := make([]byte, n)
				bits[int(fail)/8] = 0x80 >> (int(fail) % 8)
				b.AddUint8(uint8(7 - int(fail)%8))
				b.AddBytes(bits)
			})
		})
	})
	return b.BytesOrPanic()
}
