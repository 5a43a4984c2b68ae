package strictjson_test

import (
	"testing"

	"github.com/notary-dev/notary/internal/depcheck"
)

// TestStandardLibraryOnly holds the decoder to the standard library, so that the
// verification library can use it.
func TestStandardLibraryOnly(t *testing.T) { depcheck.Only(t) }
