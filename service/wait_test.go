package service_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// oneAnchor is an AnchorSource of one anchor, which the test changes.
type oneAnchor struct {
	mu sync.Mutex
	a  *service.Anchor
}

func (f *oneAnchor) Covering(ctx context.Context, index int64) (*service.Anchor, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.a == nil || f.a.Size <= index {
		return nil, nil
	}
	a := *f.a
	return &a, nil
}

func (f *oneAnchor) set(s *running, a *service.Anchor) {
	f.mu.Lock()
	f.a = a
	f.mu.Unlock()
	s.AnchorsChanged()
}

func TestWaitStatus(t *testing.T) {
	ctx := context.Background()
	s, _ := newRunning(t)
	src := &oneAnchor{}
	s.SetAnchors(src)
	if _, err := s.SubmitEntries(ctx, digests("wait", 10)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a checkpoint", func() bool { return s.LatestCheckpoint().Size == 10 })
	cp := s.LatestCheckpoint()

	t.Run("times out", func(t *testing.T) {
		wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		st, err := s.WaitStatus(wctx, 3, service.StatusPending)
		if err != nil || st != service.StatusPending {
			t.Errorf("WaitStatus = %s, %v", st, err)
		}
	})
	t.Run("unknown index", func(t *testing.T) {
		if _, err := s.WaitStatus(ctx, 10, service.StatusPending); !errors.Is(err, service.ErrNotFound) {
			t.Errorf("error %v", err)
		}
	})

	type result struct {
		st  service.Status
		err error
	}
	wait := func(index int64, since service.Status) <-chan result {
		ch := make(chan result, 1)
		go func() {
			st, err := s.WaitStatus(ctx, index, since)
			ch <- result{st, err}
		}()
		return ch
	}
	anchored := wait(3, service.StatusPending)
	time.Sleep(20 * time.Millisecond)
	src.set(s, &service.Anchor{Status: service.AnchorSigned, Size: 5, Root: cp.Root})
	select {
	case r := <-anchored:
		t.Fatalf("woke with %v for a signed anchor", r)
	case <-time.After(50 * time.Millisecond):
	}
	src.set(s, &service.Anchor{Status: service.AnchorMempool, Size: 5})
	if r := <-anchored; r.err != nil || r.st != service.StatusAnchored {
		t.Errorf("WaitStatus = %+v, want anchored", r)
	}
	if st, _ := s.StatusAt(ctx, 7); st != service.StatusPending {
		t.Errorf("entry 7, beyond the anchor, is %s", st)
	}

	confirmed := wait(3, service.StatusAnchored)
	src.set(s, &service.Anchor{Status: service.AnchorFinal, Size: cp.Size, Root: cp.Root, Bitcoin: &service.BitcoinAttestation{}})
	if r := <-confirmed; r.st != service.StatusConfirmed {
		t.Errorf("WaitStatus = %+v, want confirmed", r)
	}
	// StatusAt agrees with TimestampAt.
	for i := range int64(10) {
		st, err := s.StatusAt(ctx, i)
		ts, err2 := s.TimestampAt(ctx, i)
		if err != nil || err2 != nil || st != ts.Status {
			t.Errorf("entry %d: StatusAt %s (%v), TimestampAt %s (%v)", i, st, err, ts.Status, err2)
		}
	}
}

func TestConfirmedSize(t *testing.T) {
	ctx := context.Background()
	s, _ := newRunning(t)
	if n, err := s.ConfirmedSize(ctx); n != 0 || err != nil {
		t.Errorf("without anchors: %d, %v", n, err)
	}
	src := &oneAnchor{}
	s.SetAnchors(src)
	if _, err := s.SubmitEntries(ctx, digests("confirmed", 37)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		a    *service.Anchor
		want int64
	}{
		{nil, 0},
		{&service.Anchor{Status: service.AnchorMempool, Size: 20}, 0},
		{&service.Anchor{Status: service.AnchorFinal, Size: 20}, 0}, // no Bitcoin proof yet
		{&service.Anchor{Status: service.AnchorFinal, Size: 20, Bitcoin: &service.BitcoinAttestation{}}, 20},
		{&service.Anchor{Status: service.AnchorFinal, Size: 37, Bitcoin: &service.BitcoinAttestation{}}, 37},
		{&service.Anchor{Status: service.AnchorFinal, Size: 1, Bitcoin: &service.BitcoinAttestation{}}, 1},
	} {
		src.set(s, tt.a)
		if n, err := s.ConfirmedSize(ctx); n != tt.want || err != nil {
			t.Errorf("anchor %+v: ConfirmedSize = %d, %v; want %d", tt.a, n, err, tt.want)
		}
	}
}

func TestProveRanges(t *testing.T) {
	ctx := context.Background()
	s, _ := newRunning(t)
	if _, err := s.SubmitEntries(ctx, digests("ranges", 9)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a checkpoint", func() bool { return s.LatestCheckpoint().Size == 9 })
	cp := s.LatestCheckpoint()
	// First, before the proofs below are read into the hash cache: a request that is
	// cancelled has its proof's store reads cut short.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.ProveInclusion(cancelled, 4, 9); !errors.Is(err, context.Canceled) {
		t.Errorf("ProveInclusion(4, 9) of a cancelled request: %v, want context.Canceled", err)
	}
	if _, err := s.ProveConsistency(cancelled, 3, 9); !errors.Is(err, context.Canceled) {
		t.Errorf("ProveConsistency(3, 9) of a cancelled request: %v, want context.Canceled", err)
	}
	p, err := s.ProveInclusion(ctx, 4, 9)
	if err != nil || p.Root != cp.Root || merkle.VerifyInclusion(4, 9, p.LeafHash, p.Root, p.Proof) != nil {
		t.Errorf("ProveInclusion(4, 9) = %+v, %v", p, err)
	}
	c, err := s.ProveConsistency(ctx, 3, 9)
	if err != nil || c.NewRoot != cp.Root || merkle.VerifyConsistency(3, 9, c.OldRoot, c.NewRoot, c.Proof) != nil {
		t.Errorf("ProveConsistency(3, 9) = %+v, %v", c, err)
	}
	for _, q := range [][2]int64{{0, 0}, {0, 10}, {9, 9}, {-1, 3}, {5, 4}} {
		if _, err := s.ProveInclusion(ctx, q[0], q[1]); !errors.Is(err, service.ErrBadRange) {
			t.Errorf("ProveInclusion%v: %v", q, err)
		}
	}
	for _, q := range [][2]int64{{0, 10}, {5, 4}, {-1, 3}} {
		if _, err := s.ProveConsistency(ctx, q[0], q[1]); !errors.Is(err, service.ErrBadRange) {
			t.Errorf("ProveConsistency%v: %v", q, err)
		}
	}
}

func TestWebhookSignature(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	otherPub, other, _ := ed25519.GenerateKey(nil)
	body := []byte(`{"digest":"abc","status":"confirmed"}`)
	now := time.Unix(1_700_000_000, 0)
	h := notary.SignWebhook(key, body, now)
	if !strings.HasPrefix(h, "t=1700000000,ed25519=") {
		t.Errorf("header %q", h)
	}
	if err := notary.VerifyWebhook(pub, h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("VerifyWebhook: %v", err)
	}
	// While a key is replaced, the header may carry two signatures; one must verify.
	both := h + "," + strings.Split(notary.SignWebhook(other, body, now), ",")[1]
	for _, k := range []ed25519.PublicKey{pub, otherPub} {
		if err := notary.VerifyWebhook(k, both, body, now, time.Minute); err != nil {
			t.Errorf("two signatures: %v", err)
		}
	}
	bad := []struct {
		name   string
		key    ed25519.PublicKey
		header string
		body   []byte
		now    time.Time
	}{
		{"other key", otherPub, h, body, now},
		{"changed body", pub, h, append([]byte(" "), body...), now},
		{"too old", pub, h, body, now.Add(6 * time.Minute)},
		{"from the future", pub, h, body, now.Add(-6 * time.Minute)},
		{"other time", pub, strings.Replace(h, "t=1700000000", "t=1700000001", 1), body, now},
		{"no time", pub, h[strings.Index(h, ",")+1:], body, now},
		{"two times", pub, "t=1700000000," + h, body, now},
		{"no signature", pub, "t=1700000000", body, now},
		{"empty", pub, "", body, now},
		{"short key", pub[:31], h, body, now},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if err := notary.VerifyWebhook(tt.key, tt.header, tt.body, tt.now, 5*time.Minute); !errors.Is(err, notary.ErrWebhookSignature) {
				t.Errorf("error %v, want ErrWebhookSignature", err)
			}
		})
	}
}
