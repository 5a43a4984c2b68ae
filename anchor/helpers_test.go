package anchor

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// memStore is an in-memory Store that can be told to fail.
type memStore struct {
	mu      sync.Mutex
	records map[int64][]byte
	wallet  []byte
	saves   int
	// fail, if set, is consulted before every save; a non-nil result fails it.
	fail func(records []StoredRecord, wallet []byte) error
}

func newMemStore() *memStore { return &memStore{records: map[int64][]byte{}} }

func (s *memStore) SaveAnchorState(ctx context.Context, records []StoredRecord, wallet []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(records, wallet); err != nil {
			return err
		}
	}
	for _, r := range records {
		s.records[r.ID] = append([]byte(nil), r.Data...)
	}
	if wallet != nil {
		s.wallet = append([]byte(nil), wallet...)
	}
	s.saves++
	return nil
}

func (s *memStore) LoadAnchorState(ctx context.Context) ([]StoredRecord, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []StoredRecord
	for _, id := range slices.Sorted(maps.Keys(s.records)) {
		out = append(out, StoredRecord{ID: id, Data: append([]byte(nil), s.records[id]...)})
	}
	var wallet []byte
	if s.wallet != nil {
		wallet = append([]byte(nil), s.wallet...)
	}
	return out, wallet, nil
}

func (s *memStore) recordCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

// fakeCheckpoints is a CheckpointSource whose checkpoint the test sets.
type fakeCheckpoints struct {
	mu sync.Mutex
	cp notary.Checkpoint
}

func (c *fakeCheckpoints) LatestCheckpoint() notary.Checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cp
}

// set publishes a checkpoint of the given size with a root derived from it.
func (c *fakeCheckpoints) set(size int64) notary.Checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cp = notary.Checkpoint{Origin: "test", Size: size, Root: rootOf(size)}
	return c.cp
}

func rootOf(size int64) merkle.Hash {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(size))
	return sha256.Sum256(b[:])
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// patience bounds the wait for something that must happen but that a busy machine may
// be slow to get to: far beyond any delay the code means to have, so that only a hang
// reaches it.
const patience = 2 * time.Minute

// returns calls f and returns its error, failing the test if f has not returned after
// patience.
func returns(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(patience):
		t.Fatalf("%s: no return after %v", what, patience)
		return nil
	}
}

func newTestKey(t testing.TB) *btcec.PrivateKey {
	t.Helper()
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// Synthetic blocks for the pure tests. They are not valid Bitcoin blocks (no proof
// of work), but their hashes, parents and transactions are real.

var blockNonce atomic.Uint32

// makeBlock returns a block on parent whose coinbase pays 50 BTC to payTo, followed by txs.
func makeBlock(parent chainhash.Hash, height int64, payTo []byte, txs ...*wire.MsgTx) *wire.MsgBlock {
	nonce := blockNonce.Add(1)
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript:  binary.LittleEndian.AppendUint64([]byte{0x08}, uint64(height)<<32|uint64(nonce)),
		Sequence:         wire.MaxTxInSequenceNum,
	})
	cb.AddTxOut(wire.NewTxOut(50e8, payTo))
	blk := &wire.MsgBlock{Header: wire.BlockHeader{
		Version: 4, PrevBlock: parent, Timestamp: time.Unix(1700000000+int64(nonce), 0), Bits: 0x207fffff, Nonce: nonce,
	}}
	blk.Transactions = append([]*wire.MsgTx{cb}, txs...)
	txids := make([]merkle.Hash, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		txids[i] = merkle.Hash(tx.TxHash())
	}
	blk.Header.MerkleRoot = chainhash.Hash(merkle.BlockMerkleRoot(txids))
	return blk
}

// spendTx returns a transaction spending op to payTo (unsigned: the follower does not check scripts).
func spendTx(op wire.OutPoint, value int64, payTo []byte) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&op, nil, nil))
	tx.AddTxOut(wire.NewTxOut(value, payTo))
	return tx
}

var otherScript = []byte{0x00, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}

// fakeNode is a Node over synthetic blocks: a best chain the test can reorganize,
// and a mempool that the next mined block takes.
type fakeNode struct {
	mu      sync.Mutex
	chain   []*wire.MsgBlock // chain[h] is the block at height h
	mempool []*wire.MsgTx
	payTo   []byte
	down    bool
	sent    []chainhash.Hash // every txid sent
	// reject, if set, decides the answer to a send.
	reject func(tx *wire.MsgTx) error
}

func newFakeNode(payTo []byte) *fakeNode {
	n := &fakeNode{payTo: payTo}
	n.chain = []*wire.MsgBlock{makeBlock(chainhash.Hash{}, 0, otherScript)}
	return n
}

var errDown = errors.New("connection refused")

// mine appends blocks to the best chain; the first takes the mempool.
func (n *fakeNode) mine(count int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for range count {
		tip := n.chain[len(n.chain)-1]
		n.chain = append(n.chain, makeBlock(tip.BlockHash(), int64(len(n.chain)), n.payTo, n.mempool...))
		n.mempool = nil
	}
}

// fork replaces the chain above height with count new blocks paying elsewhere,
// carrying txs in the first; the disconnected transactions return to the mempool
// unless dropMempool.
func (n *fakeNode) fork(height int64, count int, dropMempool bool, txs ...*wire.MsgTx) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !dropMempool {
		for _, b := range n.chain[height+1:] {
			n.mempool = append(n.mempool, b.Transactions[1:]...)
		}
	} else {
		n.mempool = nil
	}
	n.chain = n.chain[:height+1]
	for i := range count {
		tip := n.chain[len(n.chain)-1]
		var in []*wire.MsgTx
		if i == 0 {
			in = txs
		}
		n.chain = append(n.chain, makeBlock(tip.BlockHash(), int64(len(n.chain)), otherScript, in...))
	}
}

func (n *fakeNode) setDown(down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down = down
}

func (n *fakeNode) mempoolTxIDs() []chainhash.Hash {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []chainhash.Hash
	for _, tx := range n.mempool {
		out = append(out, tx.TxHash())
	}
	return out
}

func (n *fakeNode) BlockCount(ctx context.Context) (int64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return 0, errDown
	}
	return int64(len(n.chain) - 1), nil
}

func (n *fakeNode) BlockHash(ctx context.Context, height int64) (chainhash.Hash, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return chainhash.Hash{}, errDown
	}
	if height < 0 || height >= int64(len(n.chain)) {
		return chainhash.Hash{}, errors.New("block height out of range")
	}
	return n.chain[height].BlockHash(), nil
}

func (n *fakeNode) Block(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return nil, errDown
	}
	for _, b := range n.chain {
		if b.BlockHash() == hash {
			return b, nil
		}
	}
	return nil, errors.New("block not found")
}

func (n *fakeNode) SendRawTransaction(ctx context.Context, tx *wire.MsgTx) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return errDown
	}
	n.sent = append(n.sent, tx.TxHash())
	if n.reject != nil {
		if err := n.reject(tx); err != nil {
			return err
		}
	}
	for i, m := range n.mempool {
		if m.TxHash() == tx.TxHash() {
			return ErrTxKnown
		}
		if m.TxIn[0].PreviousOutPoint == tx.TxIn[0].PreviousOutPoint {
			n.mempool[i] = tx // replacement (fees are not checked here)
			return nil
		}
	}
	for _, b := range n.chain {
		for _, btx := range b.Transactions {
			if btx.TxHash() == tx.TxHash() {
				return ErrTxKnown
			}
			for _, in := range btx.TxIn {
				if in.PreviousOutPoint == tx.TxIn[0].PreviousOutPoint {
					return ErrTxConflict
				}
			}
		}
	}
	n.mempool = append(n.mempool, tx)
	return nil
}

func (n *fakeNode) EstimateFee(ctx context.Context, target int) (SatPerVByte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return 0, errDown
	}
	return 0, nil
}
