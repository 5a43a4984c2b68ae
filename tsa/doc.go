// Package tsa is an RFC 3161 time-stamp authority's protocol: it parses time-stamp
// requests, builds time-stamp responses whose tokens are CMS SignedData (RFC 5652) over a
// TSTInfo, and verifies tokens.
//
// It imports neither the server nor a database, so that a verifier can use it alone. The
// request parser is strict DER and bounded (MaxRequestSize): anything else is refused
// with the PKIStatus rejection and failure information (FailInfo) RFC 3161 names, never
// accepted in a lenient reading. Tokens carry the content-type, message-digest and
// signing-certificate-v2 (RFC 5035) signed attributes, and are signed with ECDSA (P-256,
// SHA-256) or RSA (PKCS #1 v1.5, SHA-256).
//
// docs/rfc3161.md says how notary ties each token to an entry of its log.
package tsa
