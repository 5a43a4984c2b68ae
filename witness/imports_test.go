package witness_test

import (
	"testing"

	"github.com/notary-dev/notary/internal/depcheck"
)

// TestImportsStaySmall holds the witness client to the verification library (and what it
// imports), merkle and the signed-note package: never the service, a store or the HTTP API.
func TestImportsStaySmall(t *testing.T) {
	depcheck.Only(t,
		"github.com/notary-dev/notary/notary",
		"github.com/notary-dev/notary/merkle",
		"github.com/notary-dev/notary/internal/strictjson", // the standard library only
		"golang.org/x/mod/sumdb/note",
	)
}
