package notary_test

import (
	"testing"

	"github.com/notary-dev/notary/notary"
)

func BenchmarkVerify(b *testing.B) {
	complete := newFixture(b, []byte(fixtureTag)).complete(b)
	trusted := logKeys(b)
	pending := newFixture(b, nil).pending(b)
	file := marshal(b, complete)
	cp := []byte(complete.Log.Checkpoint)

	for _, bb := range []struct {
		name string
		run  func() error
	}{
		{"complete", func() error { _, err := notary.Verify(complete, trusted); return err }},
		{"pending", func() error { _, err := notary.Verify(pending, trusted); return err }},
		// The floor: the one signed-note check every proof has.
		{"OpenCheckpoint alone", func() error { _, err := notary.OpenCheckpoint(cp, logVkey); return err }},
		{"complete from the file", func() error {
			p, err := notary.ParseProof(file)
			if err == nil {
				_, err = notary.Verify(p, trusted)
			}
			return err
		}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bb.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
