package service_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/notary-dev/notary/internal/logtest"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// fakeAnchors is a hand-written service.AnchorSource: it reports one anchor for every index
// below the anchor's size, or fails with err.
type fakeAnchors struct {
	mu     sync.Mutex
	anchor *service.Anchor
	err    error
	asked  []int64
}

func (f *fakeAnchors) Covering(ctx context.Context, index int64) (*service.Anchor, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, index)
	if f.err != nil {
		return nil, f.err
	}
	if f.anchor == nil || index >= f.anchor.Size {
		return nil, nil
	}
	a := *f.anchor
	return &a, nil
}

// anchorOf returns an anchor of cp with the given status, its transaction mined in a
// synthetic regtest block if the status is confirmed or final.
func anchorOf(t *testing.T, cp notary.Checkpoint, status service.AnchorStatus) *service.Anchor {
	b := logtest.Anchored(t, cp.Root, []byte("notary/v1:"), 144)
	a := &service.Anchor{
		ID:     1,
		Status: status,
		Size:   cp.Size,
		Root:   cp.Root,
		TxID:   notary.ReverseHex(merkle.DoubleSHA256(b.Tx)),
		Fee:    250,
	}
	if status == service.AnchorConfirmed || status == service.AnchorFinal {
		a.Bitcoin = &service.BitcoinAttestation{
			Network: b.Network, Tx: b.Tx, TxIndex: b.TxIndex, Branch: b.Branch,
			Header: notary.Header(b.Header), Height: b.Height,
		}
		a.Height = b.Height
		a.Confirmations = 6
	}
	return a
}

func TestServiceAnchors(t *testing.T) {
	ctx := context.Background()
	s, _ := newRunning(t)
	ds := digests("anchored", 21)
	if _, err := s.SubmitEntries(ctx, ds[:20]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a checkpoint of 20 entries", func() bool { return s.LatestCheckpoint().Size == 20 })
	anchored := s.LatestCheckpoint()
	// One more entry, and a newer checkpoint, after the anchored one.
	if _, err := s.Submit(ctx, ds[20]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a checkpoint of 21 entries", func() bool { return s.LatestCheckpoint().Size == 21 })

	final := anchorOf(t, anchored, service.AnchorFinal)
	wrongRoot := anchorOf(t, anchored, service.AnchorFinal)
	wrongRoot.Root = merkle.Hash(testDigest(1))
	unknownSize := anchorOf(t, anchored, service.AnchorFinal)
	unknownSize.Size = 19 // no checkpoint of that size was signed
	finalWithoutBlock := anchorOf(t, anchored, service.AnchorFinal)
	finalWithoutBlock.Bitcoin = nil

	tests := []struct {
		name    string
		source  *fakeAnchors
		index   int64
		status  service.Status
		logSize int64 // of the proof's checkpoint
		fails   bool
	}{
		{"final anchor", &fakeAnchors{anchor: final}, 7, service.StatusConfirmed, 20, false},
		{"final anchor, its first entry", &fakeAnchors{anchor: final}, 0, service.StatusConfirmed, 20, false},
		{"final anchor, its last entry", &fakeAnchors{anchor: final}, 19, service.StatusConfirmed, 20, false},
		{"entry after the final anchor", &fakeAnchors{anchor: final}, 20, service.StatusPending, 21, false},
		{"anchor signed, not yet accepted by a node", &fakeAnchors{anchor: anchorOf(t, anchored, service.AnchorSigned)}, 7, service.StatusPending, 21, false},
		{"anchor in the mempool", &fakeAnchors{anchor: anchorOf(t, anchored, service.AnchorMempool)}, 7, service.StatusAnchored, 21, false},
		{"anchor confirmed, not final", &fakeAnchors{anchor: anchorOf(t, anchored, service.AnchorConfirmed)}, 7, service.StatusAnchored, 21, false},
		{"final anchor without its block", &fakeAnchors{anchor: finalWithoutBlock}, 7, service.StatusAnchored, 21, false},
		{"no anchor yet", &fakeAnchors{}, 7, service.StatusPending, 21, false},
		{"final anchor of a root the log never had", &fakeAnchors{anchor: wrongRoot}, 7, "", 0, true},
		{"final anchor of a size never checkpointed", &fakeAnchors{anchor: unknownSize}, 7, "", 0, true},
		{"anchor source failing", &fakeAnchors{err: errors.New("node unreachable")}, 7, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetAnchors(tt.source)
			ts, err := s.Lookup(ctx, ds[tt.index])
			if tt.fails {
				if err == nil {
					t.Fatalf("Lookup = status %s, want an error", ts.Status)
				}
				if tt.source.err != nil && !errors.Is(err, tt.source.err) {
					t.Errorf("Lookup error %v does not wrap the source's %v", err, tt.source.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if len(tt.source.asked) != 1 || tt.source.asked[0] != tt.index {
				t.Errorf("the anchor source was asked for %v, want [%d]", tt.source.asked, tt.index)
			}
			if ts.Status != tt.status {
				t.Errorf("Status = %s, want %s", ts.Status, tt.status)
			}
			if (ts.Anchor != nil) != (tt.source.anchor != nil && tt.index < tt.source.anchor.Size) {
				t.Errorf("Anchor = %+v with the source's %+v", ts.Anchor, tt.source.anchor)
			}
			if ts.Proof == nil {
				t.Fatal("no proof")
			}
			p, err := notary.ParseProof(marshal(t, ts.Proof))
			if err != nil {
				t.Fatalf("ParseProof: %v", err)
			}
			v, err := notary.Verify(p, p.OwnKey())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if v.Digest != ds[tt.index] || v.Index != tt.index || v.LogSize != tt.logSize {
				t.Errorf("Verified digest %v index %d log size %d, want %v, %d, %d",
					v.Digest, v.Index, v.LogSize, ds[tt.index], tt.index, tt.logSize)
			}
			if v.Complete != (tt.status == service.StatusConfirmed) {
				t.Fatalf("Verified.Complete = %v for status %s", v.Complete, tt.status)
			}
			if !v.Complete {
				return
			}
			b := tt.source.anchor.Bitcoin
			if v.Height != b.Height || v.Network != b.Network || v.Header != notary.Header(b.Header) ||
				notary.ReverseHex(v.TxID) != tt.source.anchor.TxID || !v.BlockTime.Equal(logtest.BlockTime) || v.LogRoot != anchored.Root {
				t.Errorf("Verified = %+v, want the anchor's block and transaction %s", v, tt.source.anchor.TxID)
			}
			ops, err := p.Ops()
			if err != nil {
				t.Fatal(err)
			}
			root := notary.Header(b.Header).MerkleRoot()
			if got, err := merkle.Evaluate(p.Digest[:], ops); err != nil || !bytes.Equal(got, root[:]) {
				t.Errorf("ops give %x (%v), want the header's Merkle root %v", got, err, root)
			}
		})
	}
}
