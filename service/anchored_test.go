package service

import (
	"context"
	"fmt"
	"testing"

	"github.com/notary-dev/notary/notary"
)

// countedCheckpoints is a store of a checkpoint at every size up to 1000 that counts its reads.
type countedCheckpoints struct {
	Store
	reads int
}

func (c *countedCheckpoints) Checkpoint(ctx context.Context, size int64) (notary.Checkpoint, error) {
	c.reads++
	if size > 1000 {
		return notary.Checkpoint{}, fmt.Errorf("checkpoint %d: %w", size, ErrNotFound)
	}
	return notary.Checkpoint{Size: size}, nil
}

func TestAnchoredCheckpoints(t *testing.T) {
	ctx := context.Background()
	st := &countedCheckpoints{}
	var c anchoredCheckpoints
	for range 3 {
		if cp, err := c.get(ctx, st, 7); err != nil || cp.Size != 7 {
			t.Fatalf("get(7) = %+v, %v", cp, err)
		}
	}
	if st.reads != 1 {
		t.Errorf("three gets of one checkpoint read the store %d times, want 1", st.reads)
	}
	if _, err := c.get(ctx, st, 5000); err == nil {
		t.Error("a checkpoint the store has not: no error")
	}
	if _, err := c.get(ctx, st, 5000); err == nil || st.reads != 3 {
		t.Errorf("an error is not kept: %v after %d reads, want an error after 3", err, st.reads)
	}
	for size := int64(100); size < 100+2*maxAnchoredCheckpoints; size++ {
		if _, err := c.get(ctx, st, size); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.cps); n != maxAnchoredCheckpoints {
		t.Errorf("%d checkpoints kept, want at most %d", n, maxAnchoredCheckpoints)
	}
	reads := st.reads
	if _, err := c.get(ctx, st, 100+2*maxAnchoredCheckpoints-1); err != nil || st.reads != reads {
		t.Errorf("the newest checkpoint was read again (%v): the smallest go first", err)
	}
}
