package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/notary-dev/notary/notary"
)

// ErrNotWriter is returned for submissions to a service that follows a log another
// process writes (NewFollower): submit to the writer.
var ErrNotWriter = errors.New("notary: this process follows the log; another one writes it")

// NewFollower opens a service on a log that another process writes (through the same
// store): it answers lookups, proofs and waits from the store, follows the log's size,
// latest checkpoint and digest index as Run reads them (when the store says they moved,
// if it is a HeadWatcher, and every Config.FollowInterval), and refuses submissions with
// ErrNotWriter. It never writes to the store. A digest is found once the writer's digest
// index holds it, a few seconds at most after its entry is durable.
func NewFollower(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := &Service{
		cfg: cfg, store: cfg.Store, follower: true, lookups: newDigestLookups(cfg.Store), hashes: newHashCache(cfg.Store),
		queue: make(chan *request), closing: make(chan struct{}), closed: make(chan struct{}),
		stepDown: make(chan struct{}), recent: make(map[notary.Digest]int64),
	}
	empty := notary.Checkpoint{Origin: cfg.Signer.Name()}
	s.checkpoint.Store(&empty)
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// How often a follower reads the log's head unless Config.FollowInterval says otherwise:
// on a store that tells it when the head moves (a HeadWatcher) only to make up for what
// it was not told, as while its connection was lost; on another store, to notice moves.
const (
	watchedEvery = 5 * time.Second
	pollEvery    = 200 * time.Millisecond
)

// followGap is the least time between two reads of the head that moves of the head
// cause: while the writer commits continually, a follower reads the head at most once a
// gap (each read is three queries), and sees each commit at most a gap and a read after it.
const followGap = 10 * time.Millisecond

// followStats counts how a follower learns of the head's moves.
type followStats struct {
	watching      atomic.Bool  // the store is telling it when the head moves
	notifications atomic.Int64 // notifications of moves it received
	lost          atomic.Int64 // failures of the store's watch
	reads         atomic.Int64 // reads of the head
}

// FollowStats says how a follower learns of the log's head moving.
type FollowStats struct {
	// Watching is true while the store tells this follower when the head moves.
	Watching bool
	// Notifications counts the notifications of moves it received (one may stand for
	// several commits); Lost the times the store's watch failed (its connection lost, or
	// not made again); Reads the follower's reads of the head, told to or by the clock.
	Notifications, Lost, Reads int64
}

// FollowStats returns how this follower learns of the log's head moving; zero for the
// writer.
func (s *Service) FollowStats() FollowStats {
	return FollowStats{
		Watching:      s.follow.watching.Load(),
		Notifications: s.follow.notifications.Load(),
		Lost:          s.follow.lost.Load(),
		Reads:         s.follow.reads.Load(),
	}
}

// runFollower reads the log's head until ctx is done: whenever the store says it moved
// (at most once a followGap), and every FollowInterval whatever it says.
func (s *Service) runFollower(ctx context.Context) error {
	every := s.cfg.FollowInterval
	wake := make(chan struct{}, 1) // a read is due; moves told of meanwhile wait in it, as one
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	if w, ok := s.store.(HeadWatcher); ok {
		if every <= 0 {
			every = watchedEvery
		}
		watchCtx, stopWatch := context.WithCancel(ctx)
		watchDone := make(chan struct{})
		go func() {
			defer close(watchDone)
			err := w.WatchHead(watchCtx, HeadEvents{
				Watching: func() {
					s.follow.watching.Store(true)
					poke()
				},
				Moved: func() {
					s.follow.notifications.Add(1)
					poke()
				},
				Lost: func(err error) {
					s.follow.watching.Store(false)
					s.follow.lost.Add(1)
					s.cfg.Logger.Warn("not told when the log's head moves; reading it every "+every.String()+" until the store tells again", "err", err)
				},
			})
			s.follow.watching.Store(false)
			if err != nil {
				s.cfg.Logger.Error("cannot be told when the log's head moves; reading it every "+every.String(), "err", err)
			}
		}()
		defer func() { stopWatch(); <-watchDone }()
	} else if every <= 0 {
		every = pollEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var last, logged time.Time
	failed := 0 // failed reads not logged, at most one logged every interval
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-wake:
			if gap := followGap - time.Since(last); gap > 0 {
				select {
				case <-time.After(gap):
				case <-ctx.Done():
					return nil
				}
			}
		}
		last = time.Now()
		if err := s.refresh(ctx); err != nil && ctx.Err() == nil {
			if failed++; time.Since(logged) >= every {
				s.cfg.Logger.Warn("following the log", "failed_reads", failed, "err", err)
				logged, failed = time.Now(), 0
			}
		}
	}
}

// refresh reads the log's size, latest checkpoint and digest index size, in that order
// of dependence: a checkpoint is never ahead of the size this service reports.
func (s *Service) refresh(ctx context.Context) error {
	cp, cpErr := s.store.LatestCheckpoint(ctx)
	if cpErr != nil && !errors.Is(cpErr, ErrNotFound) {
		return fmt.Errorf("notary: reading the latest checkpoint: %w", cpErr)
	}
	n, err := s.store.LogSize(ctx)
	if err != nil {
		return fmt.Errorf("notary: reading the log's size: %w", err)
	}
	indexed, err := s.store.IndexedSize(ctx)
	if err != nil {
		return fmt.Errorf("notary: reading the digest index's size: %w", err)
	}
	if old := s.size.Swap(n); n > old {
		s.lag.Store(n - old)
	} else {
		s.lag.Store(0)
	}
	s.indexed.Store(indexed)
	if cur := s.checkpoint.Load(); cpErr == nil && cp.Size >= cur.Size && !bytes.Equal(cp.Note, cur.Note) {
		s.checkpoint.Store(&cp)
		s.checkpointAt.Store(s.cfg.Now().UnixNano())
	}
	s.lagAt.Store(s.cfg.Now().UnixNano())
	s.follow.reads.Add(1)
	return s.refreshWitnessed(ctx)
}

// Follower reports whether this service follows a log another process writes.
func (s *Service) Follower() bool { return s.follower }

// FollowerLag returns, for a follower, how many entries the log had grown by between its
// last two reads of the head, and how long ago the last read was; zero for the writer.
func (s *Service) FollowerLag() (entries int64, age time.Duration) {
	if !s.follower {
		return 0, 0
	}
	return s.lag.Load(), max(0, s.cfg.Now().Sub(time.Unix(0, s.lagAt.Load())))
}
