package service

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/notary-dev/notary/notary"
)

// signal is a broadcast: wait returns a channel that the next notify closes. A waiter
// takes the channel before it reads the state the signal guards, so that a change made
// after the read closes the channel it holds and none is missed.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// AnchorsChanged tells the service that what its AnchorSource reports may have changed:
// a transaction was sent, mined, buried deeper, replaced or reorganized out. It wakes
// WaitStatus and whoever holds a channel from AnchorChanges. The anchor side calls it.
func (s *Service) AnchorsChanged() { s.anchorsChanged.notify() }

// AnchorChanges returns a channel that the next AnchorsChanged closes. Take it before
// reading the state, so that no change is missed.
func (s *Service) AnchorChanges() <-chan struct{} { return s.anchorsChanged.wait() }

// statusOf returns the status of an entry that anchor a covers (nil: none does).
func statusOf(a *Anchor) Status {
	switch {
	case a == nil || a.Status == AnchorSigned:
		return StatusPending
	case a.Status == AnchorFinal && a.Bitcoin != nil:
		return StatusConfirmed
	default:
		return StatusAnchored
	}
}

// EntryOf returns the first entry of digest d, if d is durably logged. A digest logged by
// this process is found as soon as its entry is durable. A store that reads the entry as
// it looks the digest up (an EntryLookupStore) is asked once; another is asked for the
// entry too. A follower whose digest index is being rebuilt (it lags the log by more than
// Config.MaxUnindexed) answers a digest it does not find with an error wrapping
// ErrIndexBehind, not as not found.
func (s *Service) EntryOf(ctx context.Context, d notary.Digest) (notary.Entry, bool, error) {
	r := &request{digests: []notary.Digest{d}}
	e := make([]notary.Entry, 1)
	if err := s.lookup(ctx, r, e); err != nil {
		return notary.Entry{}, false, err
	}
	index := r.found[0]
	switch {
	case index < 0 && s.follower && s.size.Load()-s.indexed.Load() > s.cfg.MaxUnindexed:
		return notary.Entry{}, false, fmt.Errorf("notary: digest %s: %w", d, ErrIndexBehind)
	case index < 0:
		return notary.Entry{}, false, nil
	case e[0].Index == index:
		return e[0], true, nil
	}
	entry, err := s.store.Entry(ctx, index)
	if err != nil {
		return notary.Entry{}, false, fmt.Errorf("notary: reading entry %d: %w", index, err)
	}
	return entry, true, nil
}

// StatusAt returns the status of the entry at index, or an error wrapping ErrNotFound. It
// asks the anchor source only, and is much cheaper than TimestampAt.
func (s *Service) StatusAt(ctx context.Context, index int64) (Status, error) {
	if index < 0 || index >= s.size.Load() {
		return "", fmt.Errorf("notary: entry %d: %w", index, ErrNotFound)
	}
	src := s.anchorSource()
	if src == nil {
		return StatusPending, nil
	}
	a, err := src.Covering(ctx, index)
	if err != nil {
		return "", fmt.Errorf("notary: finding the anchor of entry %d: %w", index, err)
	}
	return statusOf(a), nil
}

// LongPolls returns how many callers WaitStatus holds now.
func (s *Service) LongPolls() int64 { return s.longPolls.Load() }

// WaitStatus waits until the status of the entry at index differs from since, or ctx is
// done, and returns the status then: ctx ending is not an error, it ends the wait. It is
// woken by AnchorsChanged, not by polling. It returns an error wrapping ErrNotFound for an
// index beyond the log.
func (s *Service) WaitStatus(ctx context.Context, index int64, since Status) (Status, error) {
	s.longPolls.Add(1)
	defer s.longPolls.Add(-1)
	for {
		changed := s.anchorsChanged.wait()
		st, err := s.StatusAt(context.WithoutCancel(ctx), index)
		if err != nil || st != since {
			return st, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return st, nil
		}
	}
}

// ConfirmedSize returns the number of leading entries of the log whose proofs are
// complete (status confirmed): an entry is confirmed exactly when a final anchor covers
// it, and the final anchor of the greatest size covers every entry below its size, so
// the confirmed entries are always a prefix of the log.
func (s *Service) ConfirmedSize(ctx context.Context) (int64, error) {
	if s.anchorSource() == nil {
		return 0, nil
	}
	// The least n whose entry is not confirmed, by bisection over [0, size].
	lo, hi := int64(0), s.size.Load()
	for lo < hi {
		mid := lo + (hi-lo)/2
		st, err := s.StatusAt(ctx, mid)
		if err != nil {
			return 0, err
		}
		if st == StatusConfirmed {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// CheckpointTime returns when this process signed the latest checkpoint, or loaded it
// at start.
func (s *Service) CheckpointTime() time.Time { return time.Unix(0, s.checkpointAt.Load()) }

// Unindexed returns how many durable entries the store's digest index does not cover yet:
// the digests the service holds in memory for them. Past Config.MaxUnindexed, submissions
// are pushed back.
func (s *Service) Unindexed() int64 { return max(0, s.size.Load()-s.indexed.Load()) }

// QueueDepth returns the number of submissions waiting for the sequencer.
func (s *Service) QueueDepth() int { return len(s.queue) }
