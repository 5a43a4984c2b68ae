package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// ErrBadRange is returned (wrapped) for a proof asked about sizes or indexes that the
// latest checkpoint does not cover, or that are out of order.
var ErrBadRange = errors.New("notary: out of range")

// InclusionProof proves that the entry at Index, whose leaf hash is LeafHash, is in the
// tree of the first Size entries, whose root is Root.
type InclusionProof struct {
	Index, Size int64
	LeafHash    merkle.Hash
	Root        merkle.Hash
	Proof       []merkle.Hash // the RFC 6962 audit path, bottom-up
}

// ConsistencyProof proves that the tree of the first Old entries, with root OldRoot, is a
// prefix of the tree of the first New entries, with root NewRoot.
type ConsistencyProof struct {
	Old, New         int64
	OldRoot, NewRoot merkle.Hash
	Proof            []merkle.Hash // RFC 9162 consistency proof
}

// ProveInclusion returns the inclusion proof of the entry at index in the tree of size
// entries. It requires 0 ≤ index < size ≤ the latest checkpoint's size, so that the root
// is that of a signed tree or of a prefix of one; otherwise it returns an error wrapping
// ErrBadRange. The hashes it reads from the store are read within ctx.
func (s *Service) ProveInclusion(ctx context.Context, index, size int64) (InclusionProof, error) {
	latest := s.LatestCheckpoint().Size
	switch {
	case size < 1 || size > latest:
		return InclusionProof{}, fmt.Errorf("%w: size %d is not in [1, %d], the latest checkpoint's size", ErrBadRange, size, latest)
	case index < 0 || index >= size:
		return InclusionProof{}, fmt.Errorf("%w: index %d is not in [0, %d), the entries of size %d", ErrBadRange, index, size, size)
	}
	// One read gives the leaf hash and the path; the path and the leaf give the root.
	p := InclusionProof{Index: index, Size: size}
	r := &leafReader{store: HashReader(ctx, s.hashes), leaf: merkle.StoredHashIndex(0, index)}
	var err error
	if p.Proof, err = merkle.InclusionProof(index, size, r); err != nil {
		return InclusionProof{}, fmt.Errorf("notary: inclusion proof of %d in %d: %w", index, size, err)
	}
	if !r.read { // a tree of one leaf: an empty path, nothing was read
		if _, err := r.ReadHashes(nil); err != nil {
			return InclusionProof{}, fmt.Errorf("notary: leaf hash %d: %w", index, err)
		}
	}
	p.LeafHash = r.hash
	ops, err := merkle.InclusionOps(index, size, p.Proof)
	if err != nil {
		return InclusionProof{}, fmt.Errorf("notary: inclusion proof of %d in %d: %w", index, size, err)
	}
	root, err := merkle.Evaluate(p.LeafHash[:], ops)
	if err != nil || len(root) != merkle.HashSize {
		return InclusionProof{}, fmt.Errorf("notary: root of the inclusion proof of %d in %d: %v", index, size, err)
	}
	p.Root = merkle.Hash(root)
	if cp := s.LatestCheckpoint(); size == cp.Size && p.Root != cp.Root {
		return InclusionProof{}, fmt.Errorf("notary: the stored hashes give root %s at size %d, the checkpoint %s", p.Root, size, cp.Root)
	}
	return p, nil
}

// leafReader reads stored hashes from store, and with the first read the hash at index
// leaf, so that a leaf hash and its inclusion path take one query.
type leafReader struct {
	store merkle.HashReader
	leaf  int64
	read  bool
	hash  merkle.Hash
}

func (r *leafReader) ReadHashes(indexes []int64) ([]merkle.Hash, error) {
	if r.read {
		return r.store.ReadHashes(indexes)
	}
	hs, err := r.store.ReadHashes(append([]int64{r.leaf}, indexes...))
	if err != nil {
		return nil, err
	}
	if len(hs) != len(indexes)+1 {
		return nil, fmt.Errorf("notary: the store returned %d hashes for %d indexes", len(hs), len(indexes)+1)
	}
	r.read, r.hash = true, hs[0]
	return hs[1:], nil
}

// ProveConsistency returns the consistency proof between the trees of the first oldSize
// and newSize entries. It requires 0 ≤ oldSize ≤ newSize ≤ the latest checkpoint's size;
// otherwise it returns an error wrapping ErrBadRange. The proof is empty when oldSize is
// 0 or equals newSize. The hashes it reads from the store are read within ctx.
func (s *Service) ProveConsistency(ctx context.Context, oldSize, newSize int64) (ConsistencyProof, error) {
	latest := s.LatestCheckpoint().Size
	switch {
	case newSize < 0 || newSize > latest:
		return ConsistencyProof{}, fmt.Errorf("%w: new size %d is not in [0, %d], the latest checkpoint's size", ErrBadRange, newSize, latest)
	case oldSize < 0 || oldSize > newSize:
		return ConsistencyProof{}, fmt.Errorf("%w: old size %d is not in [0, %d], the new size", ErrBadRange, oldSize, newSize)
	}
	p := ConsistencyProof{Old: oldSize, New: newSize}
	r := HashReader(ctx, s.hashes)
	var err error
	if p.OldRoot, err = merkle.TreeHash(oldSize, r); err != nil {
		return ConsistencyProof{}, fmt.Errorf("notary: root at size %d: %w", oldSize, err)
	}
	if p.NewRoot, err = merkle.TreeHash(newSize, r); err != nil {
		return ConsistencyProof{}, fmt.Errorf("notary: root at size %d: %w", newSize, err)
	}
	if p.Proof, err = merkle.ConsistencyProof(oldSize, newSize, r); err != nil {
		return ConsistencyProof{}, fmt.Errorf("notary: consistency proof %d→%d: %w", oldSize, newSize, err)
	}
	return p, nil
}

// ReadHashes returns the stored Merkle hashes at the given storage indexes (see
// merkle.StoredHashIndex), as the Store holds them, within ctx; it implements HashSource.
// The store may hold hashes beyond the latest checkpoint: callers that publish what they read
// keep to the hashes of trees LatestCheckpoint covers.
func (s *Service) ReadHashes(ctx context.Context, indexes []int64) ([]merkle.Hash, error) {
	return s.store.ReadHashes(ctx, indexes)
}

// Entries returns the count entries from index from on, in index order, or an error
// wrapping ErrNotFound if the store holds fewer.
func (s *Service) Entries(ctx context.Context, from int64, count int) ([]notary.Entry, error) {
	out := make([]notary.Entry, 0, count)
	if count <= 0 {
		return out, nil
	}
	err := s.store.ScanEntries(ctx, from, func(e notary.Entry) error {
		out = append(out, e)
		if len(out) == count {
			return errStopScan
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return nil, fmt.Errorf("notary: reading entries %d to %d: %w", from, from+int64(count)-1, err)
	}
	if len(out) != count {
		return nil, fmt.Errorf("notary: reading entries %d to %d: %w: the store holds %d of them", from, from+int64(count)-1, ErrNotFound, len(out))
	}
	return out, nil
}
