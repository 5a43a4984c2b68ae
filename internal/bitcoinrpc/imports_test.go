package bitcoinrpc_test

import (
	"testing"

	"github.com/notary-dev/notary/internal/depcheck"
)

// TestStandardLibraryOnly holds the client to the standard library, so that the verifier
// can ask a node without the service, a store or the anchorer.
func TestStandardLibraryOnly(t *testing.T) { depcheck.Only(t) }
