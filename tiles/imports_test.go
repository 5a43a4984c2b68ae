package tiles_test

import (
	"testing"

	"github.com/notary-dev/notary/internal/depcheck"
)

// TestImportsStaySmall holds the tile format to the log's hashing and its entries: a mirror
// or a reader of tiles needs neither the service, a store nor an HTTP framework.
func TestImportsStaySmall(t *testing.T) {
	depcheck.Only(t,
		"github.com/notary-dev/notary/merkle",
		"github.com/notary-dev/notary/notary",
		"github.com/notary-dev/notary/internal/strictjson",
		"golang.org/x/mod/sumdb/note",
	)
}
