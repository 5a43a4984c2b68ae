package tsa

import (
	"crypto"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers of the formats RFC 3161, RFC 5652 and RFC 5035 use.
var (
	oidSignedData         = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo            = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentType        = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningCertificate = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidSigningCertV2      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSHA256             = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384             = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512             = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidECDSAWithSHA256    = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidSHA256WithRSA      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidRSAEncryption      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECDSAWithSHA384    = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512    = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSHA384WithRSA      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidExtKeyUsage        = encasn1.ObjectIdentifier{2, 5, 29, 37}
	// Context-specific tags: [0] and [1] constructed (explicit tagging, or implicit of a
	// SEQUENCE or SET), [0] and [1] primitive (implicit INTEGERs), [4] (directoryName).
	tagCtx0               = asn1.Tag(0).ContextSpecific().Constructed()
	tagCtx1               = asn1.Tag(1).ContextSpecific().Constructed()
	tagImplicit0Primitive = asn1.Tag(0).ContextSpecific()
	tagImplicit1Primitive = asn1.Tag(1).ContextSpecific()
	tagDirectoryName      = asn1.Tag(4).ContextSpecific().Constructed()
)

// DefaultPolicy is the TSA policy notary's tokens name when the operator names none: an
// OID under 2.25, the arc of UUIDs (ITU-T X.667), which needs no registration. An operator
// with a policy of its own passes it as SignerConfig.Policy (notary serve --tsa-policy).
const DefaultPolicy = "2.25.62318084782552456327412216945717982799"

// addOID adds an object identifier whose arcs may exceed an int.
func addOID(b *cryptobyte.Builder, oid x509.OID) {
	der, err := oid.MarshalBinary()
	if err != nil {
		b.SetError(err)
		return
	}
	b.AddASN1(asn1.OBJECT_IDENTIFIER, func(b *cryptobyte.Builder) { b.AddBytes(der) })
}

// readOID reads an object identifier whose arcs may exceed an int.
func readOID(s *cryptobyte.String, out *x509.OID) bool {
	var raw cryptobyte.String
	if !s.ReadASN1(&raw, asn1.OBJECT_IDENTIFIER) {
		return false
	}
	return out.UnmarshalBinary(raw) == nil
}

// hashes maps the imprint algorithms accepted to their identifiers.
var hashes = []struct {
	oid  encasn1.ObjectIdentifier
	hash crypto.Hash
}{
	{oidSHA256, crypto.SHA256},
	{oidSHA384, crypto.SHA384},
	{oidSHA512, crypto.SHA512},
}

func hashByOID(oid encasn1.ObjectIdentifier) (crypto.Hash, bool) {
	for _, h := range hashes {
		if h.oid.Equal(oid) {
			return h.hash, true
		}
	}
	return 0, false
}

func oidOfHash(h crypto.Hash) (encasn1.ObjectIdentifier, bool) {
	for _, x := range hashes {
		if x.hash == h {
			return x.oid, true
		}
	}
	return nil, false
}

// readAlgorithm reads an AlgorithmIdentifier whose parameters are absent or NULL, as they
// are for the hash and signature algorithms this package knows.
func readAlgorithm(s *cryptobyte.String, oid *encasn1.ObjectIdentifier) bool {
	var alg cryptobyte.String
	if !s.ReadASN1(&alg, asn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(oid) {
		return false
	}
	if alg.Empty() {
		return true
	}
	var null cryptobyte.String
	return alg.ReadASN1(&null, asn1.NULL) && null.Empty() && alg.Empty()
}

// addAlgorithm adds an AlgorithmIdentifier without parameters.
func addAlgorithm(b *cryptobyte.Builder, oid encasn1.ObjectIdentifier) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
}

// addGeneralizedTime adds t, in UTC, as DER's GeneralizedTime: seconds, then a fraction of
// milliseconds without trailing zeros, if any.
func addGeneralizedTime(b *cryptobyte.Builder, t time.Time) {
	t = t.UTC().Truncate(time.Millisecond)
	s := t.Format("20060102150405")
	if ms := t.Nanosecond() / 1e6; ms != 0 {
		frac := fmt.Sprintf("%03d", ms)
		for frac[len(frac)-1] == '0' {
			frac = frac[:len(frac)-1]
		}
		s += "." + frac
	}
	b.AddASN1(asn1.GeneralizedTime, func(b *cryptobyte.Builder) { b.AddBytes([]byte(s + "Z")) })
}

// readGeneralizedTime reads a DER GeneralizedTime: UTC ("Z"), an optional fraction of
// seconds without trailing zeros.
func readGeneralizedTime(s *cryptobyte.String, out *time.Time) bool {
	var raw cryptobyte.String
	if !s.ReadASN1(&raw, asn1.GeneralizedTime) {
		return false
	}
	str := string(raw)
	if len(str) < 15 || str[len(str)-1] != 'Z' {
		return false
	}
	base, frac := str[:14], str[14:len(str)-1]
	for _, c := range base {
		if c < '0' || c > '9' {
			return false
		}
	}
	t, err := time.Parse("20060102150405", base)
	if err != nil {
		return false
	}
	if frac != "" {
		if len(frac) < 2 || frac[0] != '.' || frac[len(frac)-1] == '0' || len(frac) > 10 {
			return false
		}
		digits := frac[1:]
		n, err := strconv.ParseUint(digits, 10, 64)
		if err != nil {
			return false
		}
		for _, c := range digits {
			if c < '0' || c > '9' {
				return false
			}
		}
		for i := len(digits); i < 9; i++ {
			n *= 10
		}
		t = t.Add(time.Duration(n))
	}
	*out = t.UTC()
	return true
}

// whole reports whether parsing s consumed all of it.
func whole(ok bool, s cryptobyte.String) bool { return ok && s.Empty() }
