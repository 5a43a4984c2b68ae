package monitor_test

import (
	"testing"

	"github.com/notary-dev/notary/internal/depcheck"
)

// TestImportsStaySmall holds the monitor to what an outsider watching a log needs: the
// verification library, the tile format and the sumdb's tile reader, over net/http — never
// the service or a store, so that it trusts nothing of the log it watches.
func TestImportsStaySmall(t *testing.T) {
	depcheck.Only(t,
		"github.com/notary-dev/notary/merkle",
		"github.com/notary-dev/notary/notary",
		"github.com/notary-dev/notary/tiles",
		"github.com/notary-dev/notary/internal/strictjson",
		"golang.org/x/mod/sumdb/note",
		"golang.org/x/mod/sumdb/tlog",
	)
}
