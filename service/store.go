package service

import (
	"context"
	"errors"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// ErrNotFound is returned (possibly wrapped) by a Store for an entry or checkpoint it lacks.
var ErrNotFound = errors.New("not found")

// Store is the durable state of the log. Methods may be called from many goroutines,
// but AppendEntries is only ever called by the single sequencer goroutine.
type Store interface {
	// AppendEntries stores entries, whose indexes run on consecutively from the current
	// log size, with the Merkle hashes they add: hashes[k] is stored at storage index
	// merkle.StoredHashCount(entries[0].Index)+k. Everything is in one transaction, and
	// it is durable (synced to disk) when AppendEntries returns nil.
	AppendEntries(ctx context.Context, entries []notary.Entry, hashes []merkle.Hash) error

	// ReadHashes returns the stored Merkle hashes at the given storage indexes, in order.
	ReadHashes(indexes []int64) ([]merkle.Hash, error)

	// Entry returns the entry at index, or an error wrapping ErrNotFound.
	Entry(ctx context.Context, index int64) (notary.Entry, error)

	// ScanEntries calls fn for every entry in index order.
	ScanEntries(ctx context.Context, fn func(notary.Entry) error) error

	// SaveCheckpoint stores a signed checkpoint. Sizes only grow.
	SaveCheckpoint(ctx context.Context, c notary.Checkpoint) error

	// Checkpoint returns the stored checkpoint of the given size, or an error wrapping ErrNotFound.
	Checkpoint(ctx context.Context, size int64) (notary.Checkpoint, error)

	// LatestCheckpoint returns the stored checkpoint of the greatest size, or an error wrapping ErrNotFound.
	LatestCheckpoint(ctx context.Context) (notary.Checkpoint, error)
}
