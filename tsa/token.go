package tsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	_ "crypto/sha1" // signing-certificate (v1) attributes hash with SHA-1
	"crypto/x509"
	encasn1 "encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// MaxTokenSize is the largest time-stamp response or token the parsers take.
const MaxTokenSize = 64 << 10

// Response is a parsed TimeStampResp.
type Response struct {
	Status     int      // StatusGranted, StatusRejection, …
	StatusText []string // the PKIFreeText, if any
	// FailInfo holds the failure information bits set, if any.
	FailInfo []FailInfo
	// Token is the time-stamp token of a granted response; nil otherwise.
	Token *Token
}

// Info is a parsed TSTInfo.
type Info struct {
	Policy        x509.OID
	Hash          crypto.Hash
	HashedMessage []byte
	SerialNumber  *big.Int
	GenTime       time.Time // UTC
	Accuracy      time.Duration
	Ordering      bool
	Nonce         *big.Int // nil if none
}

// Token is a parsed TimeStampToken. Parsing checks its form only; Verify checks its
// signature and certificate.
type Token struct {
	Raw          []byte // the DER ContentInfo
	Info         Info
	Certificates []*x509.Certificate // the certificates the token carries

	tstInfo     []byte // eContent
	digestHash  crypto.Hash
	signedAttrs []byte // as signed: a DER SET
	sigAlg      encasn1.ObjectIdentifier
	signature   []byte
	issuer      []byte
	serial      *big.Int
	contentType encasn1.ObjectIdentifier
	msgDigest   []byte
	certHashAlg crypto.Hash
	certHash    []byte
}

var errForm = errors.New("tsa: not a DER time-stamp token")

// ParseResponse parses a DER TimeStampResp of at most MaxTokenSize bytes.
func ParseResponse(der []byte) (*Response, error) {
	if len(der) > MaxTokenSize {
		return nil, fmt.Errorf("tsa: the response is larger than %d bytes", MaxTokenSize)
	}
	s := cryptobyte.String(der)
	var resp, status cryptobyte.String
	if !whole(s.ReadASN1(&resp, asn1.SEQUENCE), s) || !resp.ReadASN1(&status, asn1.SEQUENCE) {
		return nil, errors.New("tsa: not a DER TimeStampResp")
	}
	r := new(Response)
	var st int64
	if !status.ReadASN1Integer(&st) || st < 0 || st > StatusRevocationNotice {
		return nil, errors.New("tsa: the response has no valid PKIStatus")
	}
	r.Status = int(st)
	if status.PeekASN1Tag(asn1.SEQUENCE) {
		var texts cryptobyte.String
		status.ReadASN1(&texts, asn1.SEQUENCE)
		for !texts.Empty() {
			var t cryptobyte.String
			if !texts.ReadASN1(&t, asn1.UTF8String) {
				return nil, errors.New("tsa: the response's status text is not UTF8Strings")
			}
			r.StatusText = append(r.StatusText, string(t))
		}
	}
	if status.PeekASN1Tag(asn1.BIT_STRING) {
		var bits encasn1.BitString
		if !status.ReadASN1BitString(&bits) {
			return nil, errors.New("tsa: the response's failure information is not a DER bit string")
		}
		for i := range bits.BitLength {
			if bits.At(i) == 1 {
				r.FailInfo = append(r.FailInfo, FailInfo(i))
			}
		}
	}
	if !status.Empty() {
		return nil, errors.New("tsa: the response's PKIStatusInfo has unexpected fields")
	}
	if resp.Empty() {
		if r.Status == StatusGranted || r.Status == StatusGrantedWithMods {
			return nil, errors.New("tsa: the response grants the request but holds no token")
		}
		return r, nil
	}
	t, err := ParseToken(resp)
	if err != nil {
		return nil, err
	}
	r.Token = t
	return r, nil
}

// ParseToken parses a DER TimeStampToken of at most MaxTokenSize bytes: a CMS
// SignedData, with one signer, over a TSTInfo.
func ParseToken(der []byte) (*Token, error) {
	if len(der) > MaxTokenSize {
		return nil, fmt.Errorf("tsa: the token is larger than %d bytes", MaxTokenSize)
	}
	t := &Token{Raw: bytes.Clone(der)}
	s := cryptobyte.String(t.Raw)
	var ci, sd cryptobyte.String
	var oid encasn1.ObjectIdentifier
	if !whole(s.ReadASN1(&ci, asn1.SEQUENCE), s) || !ci.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidSignedData) ||
		!whole(ci.ReadASN1(&sd, tagCtx0), ci) {
		return nil, fmt.Errorf("%w: not a CMS ContentInfo of signed data", errForm)
	}
	var body cryptobyte.String
	if !whole(sd.ReadASN1(&body, asn1.SEQUENCE), sd) {
		return nil, fmt.Errorf("%w: not a SignedData", errForm)
	}
	var version int64
	var digestAlgs, encap, eContent cryptobyte.String
	if !body.ReadASN1Integer(&version) || version != 3 || !body.ReadASN1(&digestAlgs, asn1.SET) ||
		!body.ReadASN1(&encap, asn1.SEQUENCE) || !encap.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidTSTInfo) ||
		!whole(encap.ReadASN1(&eContent, tagCtx0), encap) || !whole(eContent.ReadASN1Bytes(&t.tstInfo, asn1.OCTET_STRING), eContent) {
		return nil, fmt.Errorf("%w: the SignedData does not hold a TSTInfo", errForm)
	}
	if body.PeekASN1Tag(tagCtx0) {
		var certs cryptobyte.String
		body.ReadASN1(&certs, tagCtx0)
		for !certs.Empty() {
			var c cryptobyte.String
			if !certs.ReadASN1Element(&c, asn1.SEQUENCE) {
				return nil, fmt.Errorf("%w: its certificates are not X.509 certificates", errForm)
			}
			cert, err := x509.ParseCertificate(c)
			if err != nil {
				return nil, fmt.Errorf("tsa: a certificate in the token: %w", err)
			}
			t.Certificates = append(t.Certificates, cert)
		}
	}
	if body.PeekASN1Tag(tagCtx1) {
		var crls cryptobyte.String
		body.ReadASN1(&crls, tagCtx1) // revocation lists are not used
	}
	var signers, si cryptobyte.String
	if !whole(body.ReadASN1(&signers, asn1.SET), body) || !whole(signers.ReadASN1(&si, asn1.SEQUENCE), signers) {
		return nil, fmt.Errorf("%w: it must have exactly one SignerInfo", errForm)
	}
	if err := t.parseSignerInfo(si); err != nil {
		return nil, err
	}
	if err := t.Info.parse(t.tstInfo); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Token) parseSignerInfo(si cryptobyte.String) error {
	var version int64
	var sid cryptobyte.String
	var digestAlg encasn1.ObjectIdentifier
	if !si.ReadASN1Integer(&version) || version != 1 || !si.ReadASN1(&sid, asn1.SEQUENCE) {
		return fmt.Errorf("%w: its signer is not named by issuer and serial number", errForm)
	}
	var issuer cryptobyte.String
	t.serial = new(big.Int)
	if !sid.ReadASN1Element(&issuer, asn1.SEQUENCE) || !whole(sid.ReadASN1Integer(t.serial), sid) {
		return fmt.Errorf("%w: its signer identifier", errForm)
	}
	t.issuer = issuer
	if !readAlgorithm(&si, &digestAlg) {
		return fmt.Errorf("%w: its signer's digest algorithm", errForm)
	}
	var ok bool
	if t.digestHash, ok = hashByOID(digestAlg); !ok {
		return fmt.Errorf("tsa: the token's digest algorithm %v is not SHA-256, SHA-384 or SHA-512", digestAlg)
	}
	var attrs cryptobyte.String
	if !si.ReadASN1(&attrs, tagCtx0) {
		return fmt.Errorf("%w: its signer has no signed attributes", errForm)
	}
	t.signedAttrs = encodeElement(asn1.SET, attrs)
	for !attrs.Empty() {
		var attr, values, value cryptobyte.String
		var oid encasn1.ObjectIdentifier
		if !attrs.ReadASN1(&attr, asn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&oid) || !whole(attr.ReadASN1(&values, asn1.SET), attr) {
			return fmt.Errorf("%w: a signed attribute", errForm)
		}
		switch {
		case oid.Equal(oidContentType):
			if t.contentType != nil || !whole(values.ReadASN1ObjectIdentifier(&t.contentType), values) {
				return fmt.Errorf("%w: its content-type attribute", errForm)
			}
		case oid.Equal(oidMessageDigest):
			if t.msgDigest != nil || !whole(values.ReadASN1Bytes(&t.msgDigest, asn1.OCTET_STRING), values) {
				return fmt.Errorf("%w: its message-digest attribute", errForm)
			}
		case oid.Equal(oidSigningCertV2), oid.Equal(oidSigningCertificate):
			if t.certHash != nil || !whole(values.ReadASN1(&value, asn1.SEQUENCE), values) {
				return fmt.Errorf("%w: its signing-certificate attribute", errForm)
			}
			var certs, id cryptobyte.String
			if !value.ReadASN1(&certs, asn1.SEQUENCE) || !certs.ReadASN1(&id, asn1.SEQUENCE) {
				return fmt.Errorf("%w: its signing-certificate attribute", errForm)
			}
			t.certHashAlg = crypto.SHA1
			if oid.Equal(oidSigningCertV2) {
				t.certHashAlg = crypto.SHA256
				if id.PeekASN1Tag(asn1.SEQUENCE) {
					var alg encasn1.ObjectIdentifier
					if !readAlgorithm(&id, &alg) {
						return fmt.Errorf("%w: its signing-certificate-v2 hash algorithm", errForm)
					}
					if t.certHashAlg, ok = hashByOID(alg); !ok {
						return fmt.Errorf("tsa: the token's signing-certificate-v2 hash algorithm %v is not SHA-2", alg)
					}
				}
			}
			if !id.ReadASN1Bytes(&t.certHash, asn1.OCTET_STRING) {
				return fmt.Errorf("%w: its signing-certificate attribute", errForm)
			}
		}
	}
	var sigAlg, sigAlgParams cryptobyte.String
	if !si.ReadASN1(&sigAlg, asn1.SEQUENCE) || !sigAlg.ReadASN1ObjectIdentifier(&t.sigAlg) {
		return fmt.Errorf("%w: its signature algorithm", errForm)
	}
	if !sigAlg.Empty() && (!whole(sigAlg.ReadASN1(&sigAlgParams, asn1.NULL), sigAlg) || !sigAlgParams.Empty()) {
		return fmt.Errorf("%w: its signature algorithm's parameters", errForm)
	}
	if !si.ReadASN1Bytes(&t.signature, asn1.OCTET_STRING) {
		return fmt.Errorf("%w: its signature", errForm)
	}
	if si.PeekASN1Tag(tagCtx1) {
		var unsigned cryptobyte.String
		si.ReadASN1(&unsigned, tagCtx1)
	}
	if !si.Empty() {
		return fmt.Errorf("%w: its SignerInfo has unexpected fields", errForm)
	}
	if t.contentType == nil || t.msgDigest == nil || t.certHash == nil {
		return errors.New("tsa: the token lacks a content-type, message-digest or signing-certificate attribute")
	}
	return nil
}

func (i *Info) parse(der []byte) error {
	s := cryptobyte.String(der)
	var info, imprint cryptobyte.String
	var version int64
	if !whole(s.ReadASN1(&info, asn1.SEQUENCE), s) || !info.ReadASN1Integer(&version) || version != 1 {
		return fmt.Errorf("%w: its TSTInfo is not version 1", errForm)
	}
	if !readOID(&info, &i.Policy) || !info.ReadASN1Element(&imprint, asn1.SEQUENCE) {
		return fmt.Errorf("%w: its TSTInfo's policy or imprint", errForm)
	}
	if err := readImprint(&imprint, &i.Hash, &i.HashedMessage); err != nil {
		return fmt.Errorf("tsa: the token's imprint: %v", err)
	}
	i.SerialNumber = new(big.Int)
	if !info.ReadASN1Integer(i.SerialNumber) || !readGeneralizedTime(&info, &i.GenTime) {
		return fmt.Errorf("%w: its TSTInfo's serial number or time", errForm)
	}
	if info.PeekASN1Tag(asn1.SEQUENCE) {
		var acc cryptobyte.String
		var sec, ms, us int64
		ok := info.ReadASN1(&acc, asn1.SEQUENCE)
		if ok && acc.PeekASN1Tag(asn1.INTEGER) {
			ok = acc.ReadASN1Integer(&sec)
		}
		if ok && acc.PeekASN1Tag(tagImplicit0Primitive) {
			ok = acc.ReadASN1Int64WithTag(&ms, tagImplicit0Primitive) && ms >= 1
		}
		if ok && acc.PeekASN1Tag(tagImplicit1Primitive) {
			ok = acc.ReadASN1Int64WithTag(&us, tagImplicit1Primitive) && us >= 1
		}
		if !ok || !acc.Empty() || sec < 0 || sec > 1<<32 || ms > 999 || us > 999 {
			return fmt.Errorf("%w: its TSTInfo's accuracy", errForm)
		}
		i.Accuracy = time.Duration(sec)*time.Second + time.Duration(ms)*time.Millisecond + time.Duration(us)*time.Microsecond
	}
	if !info.ReadOptionalASN1Boolean(&i.Ordering, asn1.BOOLEAN, false) {
		return fmt.Errorf("%w: its TSTInfo's ordering", errForm)
	}
	if info.PeekASN1Tag(asn1.INTEGER) {
		i.Nonce = new(big.Int)
		if !info.ReadASN1Integer(i.Nonce) {
			return fmt.Errorf("%w: its TSTInfo's nonce", errForm)
		}
	}
	var skip cryptobyte.String
	if info.PeekASN1Tag(tagCtx0) {
		info.ReadASN1(&skip, tagCtx0) // the TSA's name: Verify holds the certificate instead
	}
	if info.PeekASN1Tag(tagCtx1) {
		info.ReadASN1(&skip, tagCtx1) // extensions
	}
	if !info.Empty() {
		return fmt.Errorf("%w: its TSTInfo has unexpected fields", errForm)
	}
	return nil
}

// VerifyOptions says what a verifier trusts.
type VerifyOptions struct {
	// Roots are the certificate authorities trusted to name TSAs. Required.
	Roots *x509.CertPool
	// Certificates are more certificates to build the chain from, such as the TSA's own
	// when the token does not carry it.
	Certificates []*x509.Certificate
}

// Verify checks the token: its signed attributes (content type, the TSTInfo's digest,
// the signing certificate's hash), the signature by the signing certificate's key, and
// that this certificate, a TSA's by RFC 3161's rules, chains to one of opts.Roots at the
// token's genTime. It returns the chain, the TSA's certificate first.
func (t *Token) Verify(opts VerifyOptions) ([]*x509.Certificate, error) {
	if opts.Roots == nil {
		return nil, errors.New("tsa: no trusted roots to verify the token against")
	}
	if !t.contentType.Equal(oidTSTInfo) {
		return nil, errors.New("tsa: the token's content-type attribute is not TSTInfo")
	}
	h := t.digestHash.New()
	h.Write(t.tstInfo)
	if !bytes.Equal(h.Sum(nil), t.msgDigest) {
		return nil, errors.New("tsa: the token's TSTInfo does not match its signed digest: it was altered")
	}
	candidates := append(append([]*x509.Certificate(nil), t.Certificates...), opts.Certificates...)
	var signer *x509.Certificate
	for _, c := range candidates {
		if bytes.Equal(c.RawIssuer, t.issuer) && c.SerialNumber.Cmp(t.serial) == 0 {
			signer = c
			break
		}
	}
	if signer == nil {
		return nil, errors.New("tsa: the token's signing certificate is neither in it nor among those given")
	}
	ch := t.certHashAlg.New()
	ch.Write(signer.Raw)
	if !bytes.Equal(ch.Sum(nil), t.certHash) {
		return nil, errors.New("tsa: the token's signing-certificate attribute names another certificate")
	}
	if err := checkSignature(signer, t.sigAlg, t.digestHash, t.signedAttrs, t.signature); err != nil {
		return nil, err
	}
	if err := CheckTSACertificate(signer); err != nil {
		return nil, err
	}
	inter := x509.NewCertPool()
	for _, c := range candidates {
		inter.AddCert(c)
	}
	chains, err := signer.Verify(x509.VerifyOptions{
		Roots: opts.Roots, Intermediates: inter, CurrentTime: t.Info.GenTime,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
	if err != nil {
		return nil, fmt.Errorf("tsa: the TSA's certificate is not trusted: %w", err)
	}
	return chains[0], nil
}

// checkSignature checks sig over signed, by cert's key.
func checkSignature(cert *x509.Certificate, alg encasn1.ObjectIdentifier, digestHash crypto.Hash, signed, sig []byte) error {
	hash := digestHash
	switch {
	case alg.Equal(oidECDSAWithSHA256), alg.Equal(oidSHA256WithRSA):
		hash = crypto.SHA256
	case alg.Equal(oidECDSAWithSHA384), alg.Equal(oidSHA384WithRSA):
		hash = crypto.SHA384
	case alg.Equal(oidECDSAWithSHA512), alg.Equal(oidSHA512WithRSA):
		hash = crypto.SHA512
	case alg.Equal(oidRSAEncryption):
	default:
		return fmt.Errorf("tsa: the token's signature algorithm %v is not ECDSA or RSA with SHA-2", alg)
	}
	h := hash.New()
	h.Write(signed)
	d := h.Sum(nil)
	switch k := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, d, sig) {
			return errors.New("tsa: the token's signature is not the TSA certificate's key's")
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(k, hash, d, sig); err != nil {
			return errors.New("tsa: the token's signature is not the TSA certificate's key's")
		}
	default:
		return fmt.Errorf("tsa: the TSA certificate's %T key is not supported", k)
	}
	return nil
}

// Digest returns the digest of r under the token's imprint algorithm.
func (i *Info) Digest(r io.Reader) ([]byte, error) {
	h := i.Hash.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// ErrImprintMismatch is returned by CheckData for data that is not the data the token
// is for.
var ErrImprintMismatch = errors.New("tsa: the token is for other data: its imprint is not the data's digest")

// CheckData returns ErrImprintMismatch unless the token's imprint is the digest of r.
func (i *Info) CheckData(r io.Reader) error {
	d, err := i.Digest(r)
	if err != nil {
		return err
	}
	if !bytes.Equal(d, i.HashedMessage) {
		return ErrImprintMismatch
	}
	return nil
}
