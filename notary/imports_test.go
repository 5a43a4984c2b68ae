package notary_test

import (
	"testing"

	"github.com/notary-dev/notary/internal/depcheck"
)

// TestImportsStaySmall holds the verification library to what a third party verifying a
// proof needs: the standard library, merkle, internal/strictjson and the signed-note
// package — never the service, a store, an HTTP framework or a node client, directly or
// through another package.
func TestImportsStaySmall(t *testing.T) {
	depcheck.Only(t,
		"github.com/notary-dev/notary/merkle",
		"github.com/notary-dev/notary/internal/strictjson", // the standard library only
		"golang.org/x/mod/sumdb/note",
	)
}
