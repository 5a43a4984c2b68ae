package anchor

import (
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/wire/v2"
	"github.com/notary-dev/notary/service"
)

// state is everything the anchorer knows: the follower's view of the chain and the
// anchor records, with what changed since the last save. Its methods are pure
// transitions (no node, no store, no clock but the times passed in), so that
// connecting, disconnecting and reorganizing can be tested block by block.
type state struct {
	f       *follower
	records []*record // by ascending ID
	depth   int64     // confirmations that make an anchor final

	dirty       map[int64]bool // records changed since the last save
	walletDirty bool
}

func newState(f *follower, records []*record, depth int64) *state {
	return &state{f: f, records: records, depth: depth, dirty: map[int64]bool{}}
}

func (s *state) touch(r *record) { s.dirty[r.ID] = true }

// connect adds blk at height to the follower and updates the records whose coin
// it spends. The record with a version of the spending transaction is mined (a live
// one in preference to an abandoned one, which is revived only if no live record
// claims the transaction: identical versions can exist, since signing is
// deterministic); any other live record spending that coin is abandoned.
func (s *state) connect(height int64, blk *wire.MsgBlock) error {
	spends, err := s.f.connect(height, blk)
	if err != nil {
		return err
	}
	s.walletDirty = true
	for _, sp := range spends {
		claimer, version := s.claimer(sp)
		for _, r := range s.records {
			switch {
			case r.OutPoint != sp.OutPoint:
			case r == claimer:
				m, err := newMined(version, blk, height, sp.TxIndex)
				if err != nil {
					return err
				}
				r.Mined, r.Current, r.Abandoned = m, version, ""
				s.touch(r)
			case r.Mined == nil && r.live():
				r.Abandoned = fmt.Sprintf("coin %v spent by transaction %v", r.OutPoint, sp.TxID)
				s.touch(r)
			}
		}
	}
	return nil
}

// claimer returns the record, and the index of its version, that sp's transaction
// belongs to: a live record first, else an abandoned one; nil if none.
func (s *state) claimer(sp spend) (*record, int) {
	for _, live := range []bool{true, false} {
		for _, r := range s.records {
			if r.OutPoint != sp.OutPoint || r.live() != live {
				continue
			}
			if v := r.versionOf(sp.TxID); v >= 0 {
				return r, v
			}
		}
	}
	return nil, -1
}

// disconnect removes the tip block; the records mined in it wait for a block again
// from now on. It returns errReorgTooDeep like follower.disconnect.
func (s *state) disconnect(now time.Time) (blockRef, error) {
	ref, err := s.f.disconnect()
	if err != nil {
		return ref, err
	}
	s.walletDirty = true
	for _, r := range s.records {
		if r.Mined != nil && r.Mined.Block == ref.Hash {
			r.Mined = nil
			r.Pending = now
			s.touch(r)
		}
	}
	return ref, nil
}

// rescan forgets the chain from the follower's start height on, to scan it again.
func (s *state) rescan(now time.Time) {
	s.f.reset()
	s.walletDirty = true
	for _, r := range s.records {
		if r.Mined != nil && r.Mined.Height >= s.f.start {
			r.Mined = nil
			r.Pending = now
			s.touch(r)
		}
	}
}

// checkCoins abandons the unmined records whose coin is no longer in the best
// chain. Call it only when the follower has caught up with the node.
func (s *state) checkCoins() {
	for _, r := range s.records {
		if !r.live() || r.Mined != nil {
			continue
		}
		if _, ok := s.f.coins[r.OutPoint]; !ok {
			r.Abandoned = fmt.Sprintf("coin %v is no longer in the best chain", r.OutPoint)
			s.touch(r)
		}
	}
}

// confirmations returns the depth of r's block in the best chain, 0 if unmined.
func (s *state) confirmations(r *record) int64 {
	if r.Mined == nil {
		return 0
	}
	return s.f.confirmations(r.Mined.Height, r.Mined.Block)
}

// status returns r's status.
func (s *state) status(r *record) service.AnchorStatus {
	switch c := s.confirmations(r); {
	case c >= s.depth:
		return service.AnchorFinal
	case c > 0:
		return service.AnchorConfirmed
	}
	return service.AnchorMempool
}

// pending returns the live records not final yet, by ascending ID.
func (s *state) pending() []*record {
	var out []*record
	for _, r := range s.records {
		if r.live() && s.status(r) != service.AnchorFinal {
			out = append(out, r)
		}
	}
	return out
}

// anchoredSize returns the greatest log size committed by a live record.
func (s *state) anchoredSize() int64 {
	var n int64
	for _, r := range s.records {
		if r.live() {
			n = max(n, r.effective().Size)
		}
	}
	return n
}

// reserved reports whether a live unmined record spends op.
func (s *state) reserved(op wire.OutPoint) bool {
	for _, r := range s.records {
		if r.live() && r.Mined == nil && r.OutPoint == op {
			return true
		}
	}
	return false
}

// pickCoin returns the largest mature unreserved coin. Coins that are not coinbase
// outputs need the final depth, so an anchor never spends change a reorganization
// could take back.
func (s *state) pickCoin() (*coin, error) {
	for _, c := range s.f.unspent() {
		if s.f.mature(c, s.depth) && !s.reserved(c.OutPoint) {
			return c, nil
		}
	}
	return nil, ErrNoFunds
}

// add appends a new record.
func (s *state) add(r *record) {
	s.records = append(s.records, r)
	s.touch(r)
}

// remove drops the newest record if it is r (undoing add when it could not be saved).
func (s *state) remove(r *record) {
	if n := len(s.records); n > 0 && s.records[n-1] == r {
		s.records = s.records[:n-1]
		delete(s.dirty, r.ID)
	}
}

// nextID returns the ID for a new record.
func (s *state) nextID() int64 {
	if n := len(s.records); n > 0 {
		return s.records[n-1].ID + 1
	}
	return 1
}

// encodeDirty returns what changed since the last save, for Store.SaveAnchorState.
func (s *state) encodeDirty() ([]StoredRecord, []byte) {
	var recs []StoredRecord
	for _, r := range s.records {
		if s.dirty[r.ID] {
			recs = append(recs, StoredRecord{ID: r.ID, Data: encodeRecord(r)})
		}
	}
	var wallet []byte
	if s.walletDirty {
		wallet = encodeWallet(s.f)
	}
	return recs, wallet
}

func (s *state) clean() {
	clear(s.dirty)
	s.walletDirty = false
}

// loadState decodes stored records and wallet state. A nil wallet starts a scan
// at start.
func loadState(recs []StoredRecord, wallet []byte, script []byte, start int64, depth int64, keep int) (*state, error) {
	var records []*record
	for i, sr := range recs {
		r, err := decodeRecord(sr.ID, sr.Data)
		if err != nil {
			return nil, err
		}
		if i > 0 && r.ID <= records[i-1].ID {
			return nil, errors.New("anchor: stored records are not in ascending ID order")
		}
		records = append(records, r)
	}
	f := newFollower(script, start, keep)
	if wallet != nil {
		var err error
		if f, err = decodeWallet(wallet, keep); err != nil {
			return nil, err
		}
		if string(f.script) != string(script) {
			return nil, ErrKeyMismatch
		}
	}
	return newState(f, records, depth), nil
}
