package runindex

import (
	"testing"

	"github.com/notary-dev/notary/internal/depcheck"
)

// TestImportsStaySmall holds the run index to files and memory maps: it knows nothing of
// digests, the log or a database.
func TestImportsStaySmall(t *testing.T) {
	depcheck.Only(t, "golang.org/x/sys/unix")
}
