package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

var (
	// ErrNotFound is returned (possibly wrapped) by a Store for an entry or checkpoint it lacks.
	ErrNotFound = errors.New("not found")

	// ErrOutOfSequence is returned (wrapped) by AppendEntries when the entries do not run
	// on from the end of the log as the store holds it, or the hashes do not match them:
	// another writer extended the log, or the caller's view of it is stale. Nothing is
	// written then, and the caller must reread the log before it writes again.
	ErrOutOfSequence = errors.New("entries out of sequence")

	// ErrFenced is returned (wrapped) by a write through a Store handle whose Lead was
	// overtaken by another handle's: another process has become the log's writer. Nothing
	// is written; the handle must not write again.
	ErrFenced = errors.New("another process has become the log's writer")
)

// Store is the durable state of the log. Every implementation passes the contract tests
// of package storetest. Methods may be called from many goroutines, but AppendEntries and
// IndexDigests are only ever called by one goroutine of the process that sequences the log.
type Store interface {
	// Lead makes this handle the log's writer: it moves the log's epoch on by one, durably,
	// and returns it. From then on every write through a handle that led at an earlier
	// epoch (AppendEntries, SaveCheckpoint, and the anchorer's state) fails with an error
	// wrapping ErrFenced and writes nothing, whatever that handle's process believes.
	// A handle that never led is not fenced: tools that write a log alone (tests, migrate)
	// need not lead. The service leads before it reads the log's head.
	Lead(ctx context.Context) (epoch int64, err error)

	// LogSize returns the number of entries durably stored.
	LogSize(ctx context.Context) (int64, error)

	// AppendEntries stores entries, whose indexes run on consecutively from the current
	// log size, with the Merkle hashes they add: hashes[k] is stored at storage index
	// merkle.StoredHashCount(entries[0].Index)+k. Everything is in one transaction, which
	// is durable (synced to disk) when AppendEntries returns nil, and which commits only if
	// the log's size is still entries[0].Index (a compare-and-swap on the log's head);
	// otherwise it writes nothing and returns an error wrapping ErrOutOfSequence.
	AppendEntries(ctx context.Context, entries []notary.Entry, hashes []merkle.Hash) error

	// ReadHashes returns the stored Merkle hashes at the given storage indexes, in order.
	// A missing one is an error wrapping ErrNotFound. When ctx is done before the hashes
	// are read, it returns an error wrapping ctx.Err().
	ReadHashes(ctx context.Context, indexes []int64) ([]merkle.Hash, error)

	// Entry returns the entry at index, or an error wrapping ErrNotFound.
	Entry(ctx context.Context, index int64) (notary.Entry, error)

	// ScanEntries calls fn for every entry from index from on, in index order, as of one
	// snapshot of the log; it stops at the first error from fn and returns it. fn may
	// call the store's other methods. Once ctx is done it calls fn no more and returns an
	// error wrapping ctx.Err().
	ScanEntries(ctx context.Context, from int64, fn func(notary.Entry) error) error

	// IndexedSize returns how many leading entries of the log the digest index covers.
	IndexedSize(ctx context.Context) (int64, error)

	// IndexDigests adds the digests of the durable entries [IndexedSize, through) to the
	// digest index, each mapped to the index of its first entry, and moves IndexedSize to
	// through, in one transaction. through must not exceed LogSize.
	IndexDigests(ctx context.Context, through int64) error

	// LookupDigests sets indexes[k] to the index of the first entry of digests[k] if the
	// digest index holds it, and to -1 if not. It never reports an entry beyond
	// IndexedSize as it was when the call began; it may report entries up to the
	// IndexedSize of when it returns.
	LookupDigests(ctx context.Context, digests []notary.Digest, indexes []int64) error

	// SaveCheckpoint stores a signed checkpoint. Sizes only grow.
	SaveCheckpoint(ctx context.Context, c notary.Checkpoint) error

	// Checkpoint returns the stored checkpoint of the given size, or an error wrapping ErrNotFound.
	Checkpoint(ctx context.Context, size int64) (notary.Checkpoint, error)

	// LatestCheckpoint returns the stored checkpoint of the greatest size, or an error wrapping ErrNotFound.
	LatestCheckpoint(ctx context.Context) (notary.Checkpoint, error)
}

// HashSource reads stored Merkle hashes within a context, as a Store does.
type HashSource interface {
	ReadHashes(ctx context.Context, indexes []int64) ([]merkle.Hash, error)
}

// HashReader binds ctx to the reads of r: it returns the merkle.HashReader that merkle's
// proofs and tree hashes read through, every read of which is r's within ctx. It is made
// for one call (one request's proof, one tile), whose context it carries.
func HashReader(ctx context.Context, r HashSource) merkle.HashReader {
	return merkle.HashReaderFunc(func(indexes []int64) ([]merkle.Hash, error) {
		return r.ReadHashes(ctx, indexes)
	})
}

// maxLogSize is the largest log size merkle can address storage for.
const maxLogSize = 1<<62 - 1

// CheckAppend checks the shape of an AppendEntries call, which every Store makes before
// it writes: the entries' indexes run on consecutively from a non-negative first one, and
// hashes are exactly the stored hashes they add. Otherwise it returns an error wrapping
// ErrOutOfSequence. Whether the entries run on from the stored log is the Store's to check.
func CheckAppend(entries []notary.Entry, hashes []merkle.Hash) error {
	if len(entries) == 0 {
		if len(hashes) != 0 {
			return fmt.Errorf("%w: %d hashes without entries", ErrOutOfSequence, len(hashes))
		}
		return nil
	}
	first := entries[0].Index
	if first < 0 {
		return fmt.Errorf("%w: negative index %d", ErrOutOfSequence, first)
	}
	for k := range entries {
		if want := first + int64(k); entries[k].Index != want {
			return fmt.Errorf("%w: entry %d of the batch has index %d, want %d", ErrOutOfSequence, k, entries[k].Index, want)
		}
	}
	if first > maxLogSize-int64(len(entries)) {
		return fmt.Errorf("%w: index %d is too large", ErrOutOfSequence, first)
	}
	end := first + int64(len(entries))
	if want := merkle.StoredHashCount(end) - merkle.StoredHashCount(first); int64(len(hashes)) != want {
		return fmt.Errorf("%w: entries %d to %d add %d hashes, got %d", ErrOutOfSequence, first, end-1, want, len(hashes))
	}
	return nil
}

// EntryLookupStore is implemented by a store whose digest lookup reads each found
// digest's entry anyway (both stores confirm a match of the index's key by reading the
// digest in the entry). The service then looks a digest up and reads its entry with one
// call instead of two.
type EntryLookupStore interface {
	Store
	// LookupEntries sets entries[k] to the first entry of digests[k] if the digest index
	// holds it, and entries[k].Index to -1 if not, answering as LookupDigests does.
	LookupEntries(ctx context.Context, digests []notary.Digest, entries []notary.Entry) error
}

// RemoteStore is implemented by a store on a database server (PostgreSQL), each of whose
// calls is a round trip. The service then has the digest lookups of concurrent requests
// share one call; an in-process store (SQLite) is called by each request, in parallel.
type RemoteStore interface {
	Store
	// Remote does nothing: it marks the store as one on a server.
	Remote()
}

// HeadWatcher is implemented by a store that can tell a follower at once when another
// process has moved the log's head, so that the follower need not read it often. A
// follower on a store without it reads the head every Config.FollowInterval.
type HeadWatcher interface {
	// WatchHead watches the head until ctx is done, on at most one connection, and
	// then returns nil; a second WatchHead on the same store while one runs fails at once.
	// It tells ev of what it sees, one call at a time:
	//
	//   - Watching when it has begun to watch, or begun again after losing the
	//     connection: the head may have moved while it did not watch.
	//   - Moved after a commit that moved the log's size, its latest checkpoint, the
	//     digest index's size or the witnessed checkpoints, never before the commit is
	//     visible to the store's reads. Moved is a hint that the head may have moved: one
	//     may stand for several commits, and it may be late, repeated or spurious. The
	//     watcher may also miss moves while it still watches (a store overwhelmed by them).
	//   - Lost when it stops watching before ctx is done, with the reason; it then
	//     tries again, waiting longer after each failure.
	WatchHead(ctx context.Context, ev HeadEvents) error
}

// HeadEvents receives what a HeadWatcher sees. Its functions must not block for long.
type HeadEvents struct {
	Watching func()
	Moved    func()
	Lost     func(error)
}
