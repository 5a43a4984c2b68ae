package service

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// Status is how far a logged digest has come.
type Status string

const (
	// StatusPending: logged and receipted; no Bitcoin transaction commits it yet.
	StatusPending Status = "pending"
	// StatusAnchored: a Bitcoin transaction commits it, not yet at the final depth.
	StatusAnchored Status = "anchored"
	// StatusConfirmed: the transaction is at the final depth; the proof is complete.
	StatusConfirmed Status = "confirmed"
)

// Timestamp is everything the service knows about one logged digest.
type Timestamp struct {
	Entry  notary.Entry
	Status Status
	// Anchor is the Bitcoin anchor that covers the entry, if any.
	Anchor *Anchor
	// Proof is the best proof so far: complete when Status is StatusConfirmed, otherwise up
	// to the latest checkpoint. It is nil for the second or so before the entry is in one.
	Proof *notary.Proof
	// Checkpoint is the signed checkpoint in Proof, parsed; nil when Proof is.
	Checkpoint *notary.Checkpoint
}

// Lookup returns the timestamp of digest d, or an error wrapping ErrNotFound.
func (s *Service) Lookup(ctx context.Context, d notary.Digest) (*Timestamp, error) {
	index, ok, err := s.IndexOf(ctx, d)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("notary: digest %s: %w", d, ErrNotFound)
	}
	return s.TimestampAt(ctx, index)
}

// TimestampAt returns the timestamp of the entry at index, or an error wrapping ErrNotFound.
func (s *Service) TimestampAt(ctx context.Context, index int64) (*Timestamp, error) {
	if index < 0 || index >= s.size.Load() {
		return nil, fmt.Errorf("notary: entry %d: %w", index, ErrNotFound)
	}
	e, err := s.store.Entry(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("notary: reading entry %d: %w", index, err)
	}
	ts := &Timestamp{Entry: e, Status: StatusPending}
	if src := s.anchorSource(); src != nil {
		if ts.Anchor, err = src.Covering(ctx, index); err != nil {
			return nil, fmt.Errorf("notary: finding the anchor of entry %d: %w", index, err)
		}
	}
	cp := s.proofCheckpoint(index)
	if a := ts.Anchor; a != nil && a.Status != AnchorSigned {
		ts.Status = StatusAnchored
		if a.Status == AnchorFinal && a.Bitcoin != nil {
			ts.Status = StatusConfirmed
			if cp, err = s.anchored.get(ctx, s.store, a.Size); err != nil {
				return nil, fmt.Errorf("notary: reading the anchored checkpoint of size %d: %w", a.Size, err)
			}
			if cp.Root != a.Root {
				return nil, fmt.Errorf("notary: anchor %d commits root %s but the checkpoint of size %d has %s", a.ID, a.Root, a.Size, cp.Root)
			}
		}
	}
	if index >= cp.Size {
		return ts, nil // not in a checkpoint yet
	}
	path, err := merkle.InclusionProof(index, cp.Size, HashReader(ctx, s.hashes))
	if err != nil {
		return nil, fmt.Errorf("notary: inclusion proof of %d in %d: %w", index, cp.Size, err)
	}
	ts.Proof, ts.Checkpoint = s.logProof(e, cp, path), &cp
	if ts.Status == StatusConfirmed {
		b := ts.Anchor.Bitcoin
		ts.Proof.Bitcoin = &notary.ProofBitcoin{
			Network: b.Network, Tx: b.Tx, TxIndex: b.TxIndex, Branch: b.Branch,
			Header: b.Header[:], Height: b.Height,
		}
	}
	return ts, nil
}

// anchoredCheckpoints keeps the checkpoints that anchors commit, read from the store for
// complete proofs: a few, each shared by every entry of its anchor, and never changed, so
// that a lookup of a confirmed digest needs no read of its checkpoint. It holds at most
// maxAnchoredCheckpoints and forgets the smallest first.
type anchoredCheckpoints struct {
	mu  sync.Mutex
	cps map[int64]notary.Checkpoint
}

const maxAnchoredCheckpoints = 64

// get returns the checkpoint of the log at size, from memory or the store.
func (c *anchoredCheckpoints) get(ctx context.Context, st Store, size int64) (notary.Checkpoint, error) {
	c.mu.Lock()
	cp, ok := c.cps[size]
	c.mu.Unlock()
	if ok {
		return cp, nil
	}
	cp, err := st.Checkpoint(ctx, size)
	if err != nil {
		return cp, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cps == nil {
		c.cps = make(map[int64]notary.Checkpoint)
	}
	if len(c.cps) >= maxAnchoredCheckpoints {
		delete(c.cps, slices.Min(slices.Collect(maps.Keys(c.cps))))
	}
	c.cps[size] = cp
	return cp, nil
}
