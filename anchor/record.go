package anchor

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/notary-dev/notary/internal/strictjson"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/service"
)

// record is one anchor: every transaction version built to spend one coin, and
// what the chain says about them. A record is tracked by the coin it spends, not by
// a txid: whichever version is mined is the one that counts.
type record struct {
	ID       int64
	Created  time.Time
	Pending  time.Time // when it last began to wait for a block: built, bumped, or reorganized out
	OutPoint wire.OutPoint
	Value    btcutil.Amount // the coin's value
	Versions []*version     // in the order built; never removed
	Current  int            // the version broadcast and reported: the mined one once mined
	Mined    *mined         // set while a version is in the best chain
	// Abandoned, when not empty, says why no version can be mined any more (the node
	// refused every version, or the coin is gone). A later block spending the coin
	// with one of the versions revives the record.
	Abandoned string
}

// version is one signed transaction of a record.
type version struct {
	Tx       []byte // full serialization, witness included: what is broadcast
	TxID     chainhash.Hash
	Size     int64       // log size committed
	Root     merkle.Hash // log root committed
	Fee      btcutil.Amount
	VSize    int64
	Created  time.Time
	Rejected string // why the node refused its first broadcast; "" if it did not
	// Sent says a node accepted (or already had) the transaction since this process
	// started. It is not stored: after a restart the transaction is sent again.
	Sent bool
}

// mined says where a record's transaction is in the best chain.
type mined struct {
	Version int
	Block   chainhash.Hash
	Height  int64
	TxIndex int
	Tx      []byte        // non-witness serialization
	Branch  []merkle.Hash // the transaction's Merkle branch in the block
	Header  [80]byte
}

// live reports whether the record can still count.
func (r *record) live() bool { return r.Abandoned == "" }

// effective returns the version that counts: the mined one, else the current one.
func (r *record) effective() *version {
	if r.Mined != nil {
		return r.Versions[r.Mined.Version]
	}
	return r.Versions[r.Current]
}

// versionOf returns the index of the version with txid, or -1.
func (r *record) versionOf(txid chainhash.Hash) int {
	for i, v := range r.Versions {
		if v.TxID == txid {
			return i
		}
	}
	return -1
}

// accepted returns the index of the newest version not rejected, or -1.
func (r *record) accepted() int {
	for i := len(r.Versions) - 1; i >= 0; i-- {
		if r.Versions[i].Rejected == "" {
			return i
		}
	}
	return -1
}

// replacements counts the fee bumps that reached the node.
func (r *record) replacements() int {
	n := 0
	for _, v := range r.Versions {
		if v.Rejected == "" {
			n++
		}
	}
	return max(n-1, 0)
}

// newMined builds the attestation material of tx at txIndex in blk.
func newMined(versionIndex int, blk *wire.MsgBlock, height int64, txIndex int) (*mined, error) {
	txids := make([]merkle.Hash, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		txids[i] = merkle.Hash(tx.TxHash())
	}
	var hdr bytes.Buffer
	if err := blk.Header.Serialize(&hdr); err != nil || hdr.Len() != 80 {
		return nil, fmt.Errorf("anchor: serialize header: %v", err)
	}
	m := &mined{
		Version: versionIndex,
		Block:   blk.BlockHash(),
		Height:  height,
		TxIndex: txIndex,
		Tx:      serializeNoWitness(blk.Transactions[txIndex]),
		Branch:  merkle.BlockMerkleBranch(txids, txIndex),
	}
	copy(m.Header[:], hdr.Bytes())
	return m, nil
}

// anchor returns the record as the service sees it, given the number of
// confirmations of its block (0 if unmined) and the final depth.
func (r *record) anchor(confirmations, depth int64, network string) service.Anchor {
	v := r.effective()
	status := service.AnchorMempool
	if !v.Sent {
		status = service.AnchorSigned
	}
	a := service.Anchor{
		ID:           r.ID,
		Status:       status,
		Size:         v.Size,
		Root:         v.Root,
		TxID:         v.TxID.String(),
		Fee:          int64(v.Fee),
		Replacements: r.replacements(),
	}
	if m := r.Mined; m != nil && confirmations > 0 {
		a.Status = service.AnchorConfirmed
		if confirmations >= depth {
			a.Status = service.AnchorFinal
		}
		a.Height = m.Height
		a.Confirmations = confirmations
		a.Bitcoin = &service.BitcoinAttestation{
			Network: network,
			Tx:      append([]byte(nil), m.Tx...),
			TxIndex: m.TxIndex,
			Branch:  append([]merkle.Hash(nil), m.Branch...),
			Header:  m.Header,
			Height:  m.Height,
		}
	}
	return a
}

// Stored encodings. Records and the wallet state are JSON objects with a "format"
// number; decoding is strict (unknown fields, another format or inconsistent data are
// errors) so that a record is never half understood.

const storedFormat = 1

type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }
func (h *hexBytes) UnmarshalText(b []byte) error {
	d, err := hex.DecodeString(string(b))
	*h = d
	return err
}

type recordJSON struct {
	Format    int           `json:"format"`
	ID        int64         `json:"id"`
	Created   time.Time     `json:"created"`
	Pending   time.Time     `json:"pending"`
	OutPoint  string        `json:"outpoint"`
	Value     int64         `json:"value"`
	Versions  []versionJSON `json:"versions"`
	Current   int           `json:"current"`
	Mined     *minedJSON    `json:"mined,omitempty"`
	Abandoned string        `json:"abandoned,omitempty"`
}

type versionJSON struct {
	Tx       hexBytes    `json:"tx"`
	Size     int64       `json:"size"`
	Root     merkle.Hash `json:"root"`
	Fee      int64       `json:"fee"`
	VSize    int64       `json:"vsize"`
	Created  time.Time   `json:"created"`
	Rejected string      `json:"rejected,omitempty"`
}

type minedJSON struct {
	Version int           `json:"version"`
	Block   string        `json:"block"`
	Height  int64         `json:"height"`
	TxIndex int           `json:"tx_index"`
	Tx      hexBytes      `json:"tx"`
	Branch  []merkle.Hash `json:"branch"`
	Header  hexBytes      `json:"header"`
}

func encodeRecord(r *record) []byte {
	j := recordJSON{
		Format: storedFormat, ID: r.ID, Created: r.Created.UTC(), Pending: r.Pending.UTC(),
		OutPoint: r.OutPoint.String(), Value: int64(r.Value), Current: r.Current, Abandoned: r.Abandoned,
	}
	for _, v := range r.Versions {
		j.Versions = append(j.Versions, versionJSON{
			Tx: v.Tx, Size: v.Size, Root: v.Root, Fee: int64(v.Fee), VSize: v.VSize,
			Created: v.Created.UTC(), Rejected: v.Rejected,
		})
	}
	if m := r.Mined; m != nil {
		j.Mined = &minedJSON{
			Version: m.Version, Block: m.Block.String(), Height: m.Height, TxIndex: m.TxIndex,
			Tx: m.Tx, Branch: m.Branch, Header: m.Header[:],
		}
	}
	b, err := json.Marshal(j)
	if err != nil {
		panic("anchor: encode record: " + err.Error())
	}
	return b
}

func decodeRecord(id int64, data []byte) (*record, error) {
	var j recordJSON
	if err := strictjson.Decode(data, &j); err != nil {
		return nil, fmt.Errorf("anchor: record %d: %v", id, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("anchor: record %d: "+format, append([]any{id}, args...)...)
	}
	if j.Format != storedFormat {
		return nil, bad("format %d, want %d", j.Format, storedFormat)
	}
	if j.ID != id {
		return nil, bad("holds ID %d", j.ID)
	}
	op, err := parseOutPoint(j.OutPoint)
	if err != nil {
		return nil, bad("%v", err)
	}
	r := &record{
		ID: j.ID, Created: j.Created, Pending: j.Pending, OutPoint: op, Value: btcutil.Amount(j.Value),
		Current: j.Current, Abandoned: j.Abandoned,
	}
	if len(j.Versions) == 0 {
		return nil, bad("no transaction")
	}
	for i, vj := range j.Versions {
		tx, err := parseTx(vj.Tx)
		if err != nil {
			return nil, bad("version %d: %v", i, err)
		}
		if len(tx.TxIn) != 1 || tx.TxIn[0].PreviousOutPoint != op {
			return nil, bad("version %d does not spend %v", i, op)
		}
		r.Versions = append(r.Versions, &version{
			Tx: vj.Tx, TxID: tx.TxHash(), Size: vj.Size, Root: vj.Root, Fee: btcutil.Amount(vj.Fee),
			VSize: vj.VSize, Created: vj.Created, Rejected: vj.Rejected,
		})
	}
	if r.Current < 0 || r.Current >= len(r.Versions) {
		return nil, bad("current version %d out of range", r.Current)
	}
	if mj := j.Mined; mj != nil {
		if mj.Version < 0 || mj.Version >= len(r.Versions) {
			return nil, bad("mined version %d out of range", mj.Version)
		}
		block, err := chainhash.NewHashFromStr(mj.Block)
		if err != nil {
			return nil, bad("mined block: %v", err)
		}
		if len(mj.Header) != 80 {
			return nil, bad("header of %d bytes", len(mj.Header))
		}
		m := &mined{Version: mj.Version, Block: *block, Height: mj.Height, TxIndex: mj.TxIndex, Tx: mj.Tx, Branch: mj.Branch}
		copy(m.Header[:], mj.Header)
		r.Mined = m
	}
	return r, nil
}

func parseOutPoint(s string) (wire.OutPoint, error) {
	txid, idx, ok := strings.Cut(s, ":")
	if !ok {
		return wire.OutPoint{}, fmt.Errorf("outpoint %q is not txid:index", s)
	}
	h, err := chainhash.NewHashFromStr(txid)
	if err != nil || len(txid) != 2*chainhash.HashSize {
		return wire.OutPoint{}, fmt.Errorf("outpoint %q: bad txid", s)
	}
	n, err := strconv.ParseUint(idx, 10, 32)
	if err != nil {
		return wire.OutPoint{}, fmt.Errorf("outpoint %q: bad index", s)
	}
	return wire.OutPoint{Hash: *h, Index: uint32(n)}, nil
}

// The wallet state: the follower's kept blocks and coins.

type walletJSON struct {
	Format int         `json:"format"`
	Script hexBytes    `json:"script"`
	Start  int64       `json:"start"`
	Blocks []blockJSON `json:"blocks"`
	Coins  []coinJSON  `json:"coins"`
}

type blockJSON struct {
	Height int64  `json:"height"`
	Hash   string `json:"hash"`
}

type coinJSON struct {
	OutPoint    string `json:"outpoint"`
	Value       int64  `json:"value"`
	Height      int64  `json:"height"`
	Block       string `json:"block"`
	Coinbase    bool   `json:"coinbase,omitempty"`
	SpentBy     string `json:"spent_by,omitempty"`
	SpentBlock  string `json:"spent_block,omitempty"`
	SpentHeight int64  `json:"spent_height,omitempty"`
}

func encodeWallet(f *follower) []byte {
	j := walletJSON{Format: storedFormat, Script: f.script, Start: f.start, Blocks: []blockJSON{}, Coins: []coinJSON{}}
	for _, b := range f.blocks {
		j.Blocks = append(j.Blocks, blockJSON{Height: b.Height, Hash: b.Hash.String()})
	}
	cs := make([]*coin, 0, len(f.coins))
	for _, c := range f.coins {
		cs = append(cs, c)
	}
	// A stable order keeps equal states byte-identical.
	sortCoins(cs)
	for _, c := range cs {
		cj := coinJSON{OutPoint: c.OutPoint.String(), Value: int64(c.Value), Height: c.Height, Block: c.Block.String(), Coinbase: c.Coinbase}
		if c.Spent {
			cj.SpentBy, cj.SpentBlock, cj.SpentHeight = c.SpentBy.String(), c.SpentBlock.String(), c.SpentHeight
		}
		j.Coins = append(j.Coins, cj)
	}
	b, err := json.Marshal(j)
	if err != nil {
		panic("anchor: encode wallet: " + err.Error())
	}
	return b
}

func decodeWallet(data []byte, keep int) (*follower, error) {
	var j walletJSON
	if err := strictjson.Decode(data, &j); err != nil {
		return nil, fmt.Errorf("anchor: wallet state: %v", err)
	}
	if j.Format != storedFormat {
		return nil, fmt.Errorf("anchor: wallet state: format %d, want %d", j.Format, storedFormat)
	}
	f := newFollower(j.Script, j.Start, keep)
	for i, bj := range j.Blocks {
		h, err := chainhash.NewHashFromStr(bj.Hash)
		if err != nil {
			return nil, fmt.Errorf("anchor: wallet state: block %d: %v", bj.Height, err)
		}
		if i > 0 && bj.Height != f.blocks[i-1].Height+1 || bj.Height < j.Start {
			return nil, fmt.Errorf("anchor: wallet state: block heights are not consecutive from %d", j.Start)
		}
		f.blocks = append(f.blocks, blockRef{Height: bj.Height, Hash: *h})
	}
	for _, cj := range j.Coins {
		op, err := parseOutPoint(cj.OutPoint)
		if err != nil {
			return nil, fmt.Errorf("anchor: wallet state: %v", err)
		}
		block, err := chainhash.NewHashFromStr(cj.Block)
		if err != nil {
			return nil, fmt.Errorf("anchor: wallet state: coin %v: %v", op, err)
		}
		c := &coin{OutPoint: op, Value: btcutil.Amount(cj.Value), Height: cj.Height, Block: *block, Coinbase: cj.Coinbase}
		if cj.SpentBy != "" {
			by, err1 := chainhash.NewHashFromStr(cj.SpentBy)
			in, err2 := chainhash.NewHashFromStr(cj.SpentBlock)
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("anchor: wallet state: coin %v: %v", op, err)
			}
			c.Spent, c.SpentBy, c.SpentBlock, c.SpentHeight = true, *by, *in, cj.SpentHeight
		}
		f.coins[op] = c
	}
	return f, nil
}
