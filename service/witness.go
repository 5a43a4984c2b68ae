package service

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/witness"
)

// WitnessedStore is a Store that also keeps what the writer publishes after its witnesses,
// so that the other processes of the log serve the same (store/postgres is one). A Store
// without it keeps the cosigned checkpoints in the writer's memory only.
type WitnessedStore interface {
	// SaveWitnessed records the checkpoint published after the witnesses, and, if cosigned
	// is true, as the latest cosigned one. A smaller checkpoint than the one recorded is
	// ignored.
	SaveWitnessed(ctx context.Context, published notary.Checkpoint, cosigned bool) error
	// Witnessed returns what SaveWitnessed recorded, each nil if nothing was.
	Witnessed(ctx context.Context) (published, cosigned *notary.Checkpoint, err error)
}

// witnessRetry is how long the writer waits before it sends a checkpoint that its
// witnesses did not cosign to them again, when the log has not grown meanwhile.
const witnessRetry = 5 * time.Second

// PublishedCheckpoint returns the checkpoint the log publishes (GET /v1/checkpoint). Without
// witnesses it is the latest signed checkpoint. With witnesses (Config.Witnesses) it is the
// latest checkpoint the writer sent to them: with their cosignature lines appended to the
// log's signature when a quorum cosigned it, and as the log signed it when not, so that the
// log goes on without its witnesses (and /v1/status says which failed). Until the first
// round of witnessing ends, it is the latest signed checkpoint. Its size never decreases.
func (s *Service) PublishedCheckpoint() notary.Checkpoint {
	if p := s.published.Load(); p != nil {
		return *p
	}
	return s.LatestCheckpoint()
}

// CosignedCheckpoint returns the latest checkpoint that a quorum of witnesses cosigned, and
// false if there is none (no witnesses, or none has cosigned since this process started).
func (s *Service) CosignedCheckpoint() (notary.Checkpoint, bool) {
	if c := s.cosigned.Load(); c != nil {
		return *c, true
	}
	return notary.Checkpoint{}, false
}

// Witnesses returns what the writer knows of each witness and the quorum it requires;
// nil and 0 without witnesses, and on a follower.
func (s *Service) Witnesses() ([]witness.Status, int) {
	if s.cfg.Witnesses == nil || s.follower {
		return nil, 0
	}
	return s.cfg.Witnesses.Status(), s.cfg.Witnesses.Quorum()
}

// WitnessKeys returns the verifier keys of the witnesses and the quorum they make; nil and
// 0 without witnesses.
func (s *Service) WitnessKeys() ([]string, int) {
	if s.cfg.Witnesses == nil {
		return nil, 0
	}
	return s.cfg.Witnesses.Keys(), s.cfg.Witnesses.Quorum()
}

// proofCheckpoint returns the checkpoint in which a pending proof of the entry at index is
// given: the latest cosigned one if it covers the entry, else the latest signed one.
func (s *Service) proofCheckpoint(index int64) notary.Checkpoint {
	if c := s.cosigned.Load(); c != nil && index < c.Size {
		return *c
	}
	return s.LatestCheckpoint()
}

// runWitnesses sends every new checkpoint to the witnesses until ctx is done, one round at
// a time: the newest checkpoint when a round ends is the next one sent, and one that was
// not cosigned is sent again after witnessRetry if the log has not grown.
func (s *Service) runWitnesses(ctx context.Context) {
	prove := func(ctx context.Context, old, new int64) ([]merkle.Hash, error) {
		return merkle.ConsistencyProof(old, new, HashReader(ctx, s.hashes))
	}
	// A writer that takes over serves what the one before it published until its own
	// first round ends.
	if err := s.refreshWitnessed(ctx); err != nil {
		s.cfg.Logger.Warn("loading the witnessed checkpoints", "err", err)
	}
	// From here on only rounds move the published checkpoint, each to a newer one.
	s.published.CompareAndSwap(nil, s.checkpoint.Load())
	var tried *notary.Checkpoint // the checkpoint of the last round
	var retry <-chan time.Time
	for {
		changed := s.signed.wait()
		if cp := s.checkpoint.Load(); cp != tried {
			tried = cp
			if s.witnessRound(ctx, *cp, prove) {
				retry = nil
			} else {
				retry = time.After(witnessRetry)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-retry:
			tried, retry = nil, nil
		}
	}
}

// witnessRound has cp cosigned and publishes it, cosigned or, failing a quorum, as signed.
// It reports whether a quorum cosigned it.
func (s *Service) witnessRound(ctx context.Context, cp notary.Checkpoint, prove witness.Prover) bool {
	start := time.Now()
	out, err := s.cfg.Witnesses.Cosign(ctx, cp, prove)
	ok := err == nil
	s.cfg.Logger.Debug("witness round", "size", cp.Size, "cosigned", ok, "took", time.Since(start))
	if !ok {
		if ctx.Err() != nil {
			return false
		}
		s.cfg.Logger.Warn("publishing the checkpoint without a quorum of cosignatures", "size", cp.Size, "err", err)
		out = cp
	} else {
		s.cosigned.Store(&out)
	}
	if p := s.published.Load(); p == nil || p.Size <= out.Size {
		s.published.Store(&out)
	}
	if ws, isWS := s.store.(WitnessedStore); isWS {
		if err := ws.SaveWitnessed(ctx, out, ok); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("recording the published checkpoint for the other processes", "size", out.Size, "err", err)
		}
	}
	return ok
}

// refreshWitnessed has a follower take what the writer published after its witnesses, if
// the store keeps it: each checkpoint must be the log's, signed by its key, and within the
// log this follower has read.
func (s *Service) refreshWitnessed(ctx context.Context) error {
	ws, ok := s.store.(WitnessedStore)
	if !ok || s.cfg.Witnesses == nil {
		return nil
	}
	published, cosigned, err := ws.Witnessed(ctx)
	if err != nil {
		return fmt.Errorf("notary: reading the witnessed checkpoints: %w", err)
	}
	pub := s.PublishedCheckpoint()
	for _, c := range []struct {
		cp  *notary.Checkpoint
		cur *notary.Checkpoint // what this process has now, nil if nothing
		dst *atomic.Pointer[notary.Checkpoint]
	}{{published, &pub, &s.published}, {cosigned, s.cosigned.Load(), &s.cosigned}} {
		if c.cp == nil || c.cp.Size > s.size.Load() {
			continue
		}
		if _, err := notary.OpenCheckpoint(c.cp.Note, s.cfg.Verifier); err != nil {
			return fmt.Errorf("notary: the witnessed checkpoint of size %d: %w", c.cp.Size, err)
		}
		// Sizes never go down; at one size, the writer's later record wins (cosigned on a retry).
		if c.cur == nil || c.cur.Size < c.cp.Size || (c.cur.Size == c.cp.Size && !bytes.Equal(c.cur.Note, c.cp.Note)) {
			c.dst.Store(c.cp)
		}
	}
	return nil
}
