package tsa_test

import (
	"testing"

	"github.com/notary-dev/notary/internal/depcheck"
)

// TestImportsStaySmall holds the package to what a verifier of tokens needs: the standard
// library and cryptobyte, never the service, a store or an HTTP framework.
func TestImportsStaySmall(t *testing.T) {
	depcheck.Only(t, "golang.org/x/crypto/cryptobyte", "golang.org/x/crypto/cryptobyte/asn1")
}
