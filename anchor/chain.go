package anchor

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// coinbaseMaturity is how many confirmations a coinbase output needs before it can
// be spent, on every network.
const coinbaseMaturity = 100

// defaultKeepBlocks is how many recent best-chain block hashes the follower keeps:
// the deepest reorganization it can follow block by block. Deeper ones start a rescan.
const defaultKeepBlocks = 144

// errNotExtending means a block does not extend the follower's tip.
var errNotExtending = errors.New("anchor: block does not extend the tip")

// errReorgTooDeep means a reorganization reaches below the kept block hashes.
var errReorgTooDeep = errors.New("anchor: reorganization deeper than the kept blocks")

// blockRef names a block of the best chain.
type blockRef struct {
	Height int64
	Hash   chainhash.Hash
}

// coin is an output paying the notary's script, found in a best-chain block.
type coin struct {
	OutPoint wire.OutPoint
	Value    btcutil.Amount
	Height   int64          // height of the block that created it
	Block    chainhash.Hash // that block
	Coinbase bool
	// Spent: the best-chain transaction and block that spent it.
	Spent       bool
	SpentBy     chainhash.Hash
	SpentBlock  chainhash.Hash
	SpentHeight int64
}

// spend reports a best-chain transaction that spends one of the follower's coins.
type spend struct {
	OutPoint wire.OutPoint
	Tx       *wire.MsgTx
	TxID     chainhash.Hash
	TxIndex  int
}

// follower is the wallet's view of the best chain: a pure state machine fed with
// blocks, one connect or disconnect at a time, that tracks the coins paying script.
// It never talks to a node. Its zero value is not usable; see newFollower.
type follower struct {
	script []byte // the output script whose coins are tracked
	start  int64  // first height scanned
	keep   int    // how many recent block hashes to keep
	// blocks are the most recent best-chain blocks, by ascending height; the last is the tip.
	blocks []blockRef
	coins  map[wire.OutPoint]*coin
}

func newFollower(script []byte, start int64, keep int) *follower {
	if keep < 1 {
		keep = defaultKeepBlocks
	}
	return &follower{script: script, start: start, keep: keep, coins: map[wire.OutPoint]*coin{}}
}

// tip returns the newest connected block; ok is false if none is.
func (f *follower) tip() (ref blockRef, ok bool) {
	if len(f.blocks) == 0 {
		return blockRef{}, false
	}
	return f.blocks[len(f.blocks)-1], true
}

// tipHeight returns the tip's height, start-1 if no block is connected.
func (f *follower) tipHeight() int64 {
	if t, ok := f.tip(); ok {
		return t.Height
	}
	return f.start - 1
}

// nextHeight is the height of the next block to connect.
func (f *follower) nextHeight() int64 { return f.tipHeight() + 1 }

// hashAt returns the kept best-chain hash at height.
func (f *follower) hashAt(height int64) (chainhash.Hash, bool) {
	if len(f.blocks) == 0 {
		return chainhash.Hash{}, false
	}
	i := height - f.blocks[0].Height
	if i < 0 || i >= int64(len(f.blocks)) {
		return chainhash.Hash{}, false
	}
	return f.blocks[i].Hash, true
}

// confirmations returns how deep the block (height, hash) is in the best chain:
// 1 for the tip, 0 if it is not in the best chain as far as the follower knows.
// Blocks older than the kept hashes are assumed to be in the chain.
func (f *follower) confirmations(height int64, hash chainhash.Hash) int64 {
	tip := f.tipHeight()
	if height > tip {
		return 0
	}
	if h, ok := f.hashAt(height); ok && h != hash {
		return 0
	}
	return tip - height + 1
}

// connect adds blk at height on top of the tip, records the coins it creates and
// spends, and returns the spends of tracked coins in block order. blk must extend
// the tip (errNotExtending otherwise); the first block may be any block at start.
func (f *follower) connect(height int64, blk *wire.MsgBlock) ([]spend, error) {
	if height != f.nextHeight() {
		return nil, fmt.Errorf("%w: height %d, want %d", errNotExtending, height, f.nextHeight())
	}
	if t, ok := f.tip(); ok && blk.Header.PrevBlock != t.Hash {
		return nil, fmt.Errorf("%w: block %d's parent is %v, the tip is %v", errNotExtending, height, blk.Header.PrevBlock, t.Hash)
	}
	hash := blk.BlockHash()
	var spends []spend
	for i, tx := range blk.Transactions {
		txid := tx.TxHash()
		if i > 0 { // a coinbase input spends nothing
			for _, in := range tx.TxIn {
				c, ok := f.coins[in.PreviousOutPoint]
				if !ok || c.Spent {
					continue
				}
				c.Spent, c.SpentBy, c.SpentBlock, c.SpentHeight = true, txid, hash, height
				spends = append(spends, spend{OutPoint: c.OutPoint, Tx: tx, TxID: txid, TxIndex: i})
			}
		}
		for vout, out := range tx.TxOut {
			if !bytes.Equal(out.PkScript, f.script) {
				continue
			}
			op := wire.OutPoint{Hash: txid, Index: uint32(vout)}
			if _, dup := f.coins[op]; dup {
				continue // a duplicate txid (pre-BIP 30 coinbase); keep the first
			}
			f.coins[op] = &coin{OutPoint: op, Value: btcutil.Amount(out.Value), Height: height, Block: hash, Coinbase: i == 0}
		}
	}
	f.blocks = append(f.blocks, blockRef{Height: height, Hash: hash})
	f.prune()
	return spends, nil
}

// prune forgets the oldest block hashes beyond keep, and the coins spent below them.
func (f *follower) prune() {
	if extra := len(f.blocks) - f.keep; extra > 0 {
		f.blocks = append(f.blocks[:0:0], f.blocks[extra:]...)
	}
	if len(f.blocks) == 0 {
		return
	}
	oldest := f.blocks[0].Height
	for op, c := range f.coins {
		if c.Spent && c.SpentHeight < oldest {
			delete(f.coins, op)
		}
	}
}

// disconnect removes the tip block, forgetting the coins it created and unspending
// those it spent. It returns errReorgTooDeep when it would remove the last kept block
// while blocks below it, which the follower no longer knows, remain connected: the
// caller must then rescan (reset).
func (f *follower) disconnect() (blockRef, error) {
	t, ok := f.tip()
	if !ok {
		return blockRef{}, errors.New("anchor: disconnect: no block connected")
	}
	if len(f.blocks) == 1 && t.Height > f.start {
		return blockRef{}, errReorgTooDeep
	}
	for op, c := range f.coins {
		if c.Block == t.Hash {
			delete(f.coins, op)
			continue
		}
		if c.Spent && c.SpentBlock == t.Hash {
			c.Spent, c.SpentBy, c.SpentBlock, c.SpentHeight = false, chainhash.Hash{}, chainhash.Hash{}, 0
		}
	}
	f.blocks = f.blocks[:len(f.blocks)-1]
	return t, nil
}

// reset forgets everything, to scan again from start.
func (f *follower) reset() {
	f.blocks = nil
	f.coins = map[wire.OutPoint]*coin{}
}

// mature reports whether c may be spent in the next block: a coinbase output needs
// coinbaseMaturity confirmations, any other coin minConf.
func (f *follower) mature(c *coin, minConf int64) bool {
	conf := f.tipHeight() - c.Height + 1
	if c.Coinbase {
		return conf >= coinbaseMaturity
	}
	return conf >= max(minConf, 1)
}

// unspent returns the unspent coins, largest first (then oldest).
func (f *follower) unspent() []*coin {
	var cs []*coin
	for _, c := range f.coins {
		if !c.Spent {
			cs = append(cs, c)
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Value != cs[j].Value {
			return cs[i].Value > cs[j].Value
		}
		if cs[i].Height != cs[j].Height {
			return cs[i].Height < cs[j].Height
		}
		return outPointLess(cs[i].OutPoint, cs[j].OutPoint)
	})
	return cs
}

func outPointLess(a, b wire.OutPoint) bool {
	if c := bytes.Compare(a.Hash[:], b.Hash[:]); c != 0 {
		return c < 0
	}
	return a.Index < b.Index
}

// sortCoins orders coins by outpoint.
func sortCoins(cs []*coin) {
	sort.Slice(cs, func(i, j int) bool { return outPointLess(cs[i].OutPoint, cs[j].OutPoint) })
}
