package service

import (
	"context"
	"fmt"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// SubmitEntries logs digests and returns the entry of each digest, in order, once every
// new entry is durable; a digest logged before gives its first entry.
// It signs nothing: the caller gives the batch one receipt (SignBatchReceipt), which is
// what lets a batch of thousands of digests be answered at once.
func (s *Service) SubmitEntries(ctx context.Context, digests []notary.Digest) ([]notary.Entry, error) {
	r, err := s.sequenced(ctx, digests)
	if err != nil {
		return nil, err
	}
	entries := r.entries
	for i, e := range entries {
		if !e.Time.IsZero() {
			continue
		}
		// Logged before this call: read its first entry.
		if entries[i], err = s.store.Entry(ctx, e.Index); err != nil {
			return nil, fmt.Errorf("notary: reading entry %d: %w", e.Index, err)
		}
	}
	return entries, nil
}

// SubmitItems logs digests as SubmitEntries does and returns the batch item of each digest,
// in order: what a batch receipt covers.
func (s *Service) SubmitItems(ctx context.Context, digests []notary.Digest) ([]notary.BatchItem, error) {
	r, err := s.sequenced(ctx, digests)
	if err != nil {
		return nil, err
	}
	entries, leaves := r.entries, r.leaves
	items := make([]notary.BatchItem, len(entries))
	for i, e := range entries {
		if e.Time.IsZero() {
			// Logged before this call: read its first entry.
			if e, err = s.store.Entry(ctx, e.Index); err != nil {
				return nil, fmt.Errorf("notary: reading entry %d: %w", entries[i].Index, err)
			}
		}
		items[i] = notary.BatchItem{Index: e.Index, ReceivedMS: e.Time.UnixMilli(), Digest: e.Digest}
		if leaves != nil && leaves[i] != (merkle.Hash{}) {
			items[i].LeafHash = leaves[i]
		} else {
			items[i].LeafHash = e.LeafHash()
		}
	}
	return items, nil
}

// SignBatchReceipt signs the batch receipt of entries with the log's key.
func (s *Service) SignBatchReceipt(items []notary.BatchItem) (notary.BatchReceipt, error) {
	return notary.SignBatchReceipt(s.Origin(), items, s.cfg.Signer)
}
