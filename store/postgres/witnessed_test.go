package postgres

import (
	"bytes"
	"context"
	"testing"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

var _ service.WitnessedStore = (*DB)(nil)

// TestWitnessed checks that the witnessed checkpoints only grow, and that a checkpoint
// published without a quorum leaves the latest cosigned one in place.
func TestWitnessed(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	cp := func(size int64, note string) notary.Checkpoint {
		return notary.Checkpoint{Origin: "o", Size: size, Root: merkle.Hash{byte(size)}, Note: []byte(note)}
	}
	check := func(step string, wantPub, wantCos string) {
		t.Helper()
		pub, cos, err := db.Witnessed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := func(c *notary.Checkpoint) string {
			if c == nil {
				return ""
			}
			if c.Root != (merkle.Hash{byte(c.Size)}) || c.Origin != "o" {
				t.Errorf("%s: checkpoint %+v read back altered", step, c)
			}
			return string(c.Note)
		}
		if p, c := got(pub), got(cos); p != wantPub || c != wantCos {
			t.Errorf("%s: Witnessed = %q, %q; want %q, %q", step, p, c, wantPub, wantCos)
		}
	}
	check("empty", "", "")
	steps := []struct {
		name     string
		cp       notary.Checkpoint
		cosigned bool
		pub, cos string
	}{
		{"first, cosigned", cp(5, "5 cosigned"), true, "5 cosigned", "5 cosigned"},
		{"next, without a quorum", cp(7, "7 signed"), false, "7 signed", "5 cosigned"},
		{"the same, cosigned on retry", cp(7, "7 cosigned"), true, "7 cosigned", "7 cosigned"},
		{"an older one, ignored", cp(6, "6 cosigned"), true, "7 cosigned", "7 cosigned"},
	}
	for _, s := range steps {
		if err := db.SaveWitnessed(ctx, s.cp, s.cosigned); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		check(s.name, s.pub, s.cos)
	}
	if pub, _, _ := db.Witnessed(ctx); pub == nil || !bytes.Equal(pub.Note, []byte("7 cosigned")) {
		t.Errorf("published = %+v", pub)
	}
}
