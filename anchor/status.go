package anchor

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"time"
)

// NextAnchor returns the earliest time the next anchor may be created: Interval after
// the newest one was created, or now if there is none. It is only a lower bound: an
// anchor is created when the log has grown beyond every anchored size and a coin is
// spendable. ok is false while an anchor is pending: the next one waits until it is final.
func (a *Anchorer) NextAnchor() (t time.Time, ok bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if len(a.st.pending()) > 0 {
		return time.Time{}, false
	}
	now := a.cfg.Now()
	n := len(a.st.records)
	if n == 0 {
		return now, true
	}
	next := a.st.records[n-1].Created.Add(a.cfg.Interval)
	if next.Before(now) {
		next = now
	}
	return next, true
}

// NodeHeight asks the node for the height of its best chain, within the call timeout.
// It tells whether the node answers at all.
func (a *Anchorer) NodeHeight(ctx context.Context) (int64, error) {
	return a.blockCount(ctx)
}

// Watch calls changed whenever what Anchors and Covering report may have changed (an
// anchor created, sent, replaced, mined, buried deeper up to the final depth, reorganized
// out or abandoned), checking the in-memory state every interval until ctx is done. The
// check reads no node and no database.
func (a *Anchorer) Watch(ctx context.Context, interval time.Duration, changed func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := a.fingerprint()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if fp := a.fingerprint(); fp != last {
			last = fp
			changed()
		}
	}
}

// fingerprint hashes what the service sees of the live anchors.
func (a *Anchorer) fingerprint() uint64 {
	a.mu.RLock()
	defer a.mu.RUnlock()
	h := fnv.New64a()
	var b []byte
	for _, r := range a.st.records {
		v := r.effective()
		b = binary.BigEndian.AppendUint64(b[:0], uint64(r.ID))
		b = append(b, boolByte(r.live()), boolByte(v.Sent))
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.Versions)))
		b = binary.BigEndian.AppendUint32(b, uint32(r.Current))
		b = append(b, v.TxID[:]...)
		if m := r.Mined; m != nil {
			b = binary.BigEndian.AppendUint64(b, uint64(m.Height))
			b = append(b, m.Block[:]...)
		}
		b = binary.BigEndian.AppendUint64(b, uint64(min(a.st.confirmations(r), a.st.depth)))
		h.Write(b)
	}
	return h.Sum64()
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}
