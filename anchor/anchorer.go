// Package anchor commits the log's checkpoint roots to Bitcoin.
//
// An Anchorer owns one key. It follows the best chain of a node block by block
// (no wallet RPC: it finds the coins paying its P2WPKH address itself), and from
// time to time spends one coin in a transaction whose OP_RETURN output carries the
// newest checkpoint root, optionally behind a short tag. The transaction signals
// replaceability; if no block takes it within BumpAfter, a replacement spending the
// same coin with a higher fee commits the then newest root. Every version is kept:
// whichever is mined counts, so an anchor is tracked by the coin it spends.
//
// Guarantees:
//   - Everything is saved through the Store before any broadcast. A crash at any
//     point loses no transaction and spends no coin twice: on restart the saved
//     transaction is broadcast again, byte for byte.
//   - One anchor is pending at a time: a new one starts only when the previous one is
//     final (Depth confirmations), and never spends change that is not final itself.
//   - A reorganization that drops an anchor's block sends it back to waiting, and it is
//     broadcast again; one deeper than the kept block hashes rescans from StartHeight.
//   - Every node call has its own deadline. A node that is down delays anchoring and
//     makes Step return an error, nothing more.
package anchor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// Defaults for the zero values of Config.
const (
	DefaultInterval    = time.Hour
	DefaultBumpAfter   = time.Hour
	DefaultDepth       = 6
	DefaultFeeFloor    = SatPerVByte(1)
	DefaultFeeCap      = SatPerVByte(100)
	DefaultRelayFee    = SatPerVByte(1)
	DefaultConfTarget  = 6
	DefaultCallTimeout = 10 * time.Second
	DefaultPoll        = 30 * time.Second
)

// maxBlocksPerStep bounds the blocks one Step connects, so that a long scan makes
// progress in saved slices; Run steps again at once while the scan is behind.
const maxBlocksPerStep = 1000

// Config configures an Anchorer. Params, Key, Node, Store and Checkpoints are
// required; zero values of the rest take the defaults above.
type Config struct {
	Params      *chaincfg.Params
	Key         *btcec.PrivateKey
	Node        Node
	Store       Store
	Checkpoints service.CheckpointSource

	// Interval is the least time between the creation of two anchors.
	Interval time.Duration
	// BumpAfter is how long a transaction waits for a block before it is replaced.
	BumpAfter time.Duration
	// Depth is the number of confirmations that makes an anchor final (1 = in a block).
	Depth int
	// FeeFloor and FeeCap bound the fee rate paid; RelayFee is the nodes' minimum relay
	// rate, which each replacement adds for its size.
	FeeFloor, FeeCap, RelayFee SatPerVByte
	// ConfTarget is the confirmation target, in blocks, of fee estimates.
	ConfTarget int
	// Tag, at most MaxTagSize bytes, precedes the root in the OP_RETURN data.
	Tag []byte
	// StartHeight is the first block scanned for coins: at or below the height of the
	// first funding of Address.
	StartHeight int64
	// CallTimeout bounds every node and store call.
	CallTimeout time.Duration
	// Poll is how often Run steps (at most Interval and BumpAfter).
	Poll time.Duration
	// Logger receives the anchorer's log; nil discards it.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// keepBlocks overrides defaultKeepBlocks (tests).
	keepBlocks int
}

// Anchorer anchors checkpoint roots in Bitcoin. Its methods are safe for concurrent
// use; Steps run one at a time.
type Anchorer struct {
	cfg     Config
	policy  FeePolicy
	script  []byte
	address string
	vsize   int64 // upper bound of an anchoring transaction's virtual size
	log     *slog.Logger

	stepMu sync.Mutex   // held by Step: only Step modifies st
	mu     sync.RWMutex // held by Step while it modifies st, and by readers
	st     *state
	synced bool // whether the last Step reached the node's tip; guarded by mu
}

// WalletInfo describes the anchorer's funds.
type WalletInfo struct {
	Address string // P2WPKH address to fund
	Network string
	// Balance is the value of the unspent coins in the best chain; Spendable the part
	// that is mature and not held by a pending anchor.
	Balance, Spendable btcutil.Amount
	Coins              int   // number of unspent coins
	Height             int64 // height of the newest block scanned (StartHeight-1 before any)
	Synced             bool  // whether the last Step reached the node's tip
}

// New returns an Anchorer with the state saved in cfg.Store. It does not contact the node.
func New(ctx context.Context, cfg Config) (*Anchorer, error) {
	switch {
	case cfg.Params == nil:
		return nil, errors.New("anchor: Config.Params is required")
	case cfg.Key == nil:
		return nil, errors.New("anchor: Config.Key is required")
	case cfg.Node == nil:
		return nil, errors.New("anchor: Config.Node is required")
	case cfg.Store == nil:
		return nil, errors.New("anchor: Config.Store is required")
	case cfg.Checkpoints == nil:
		return nil, errors.New("anchor: Config.Checkpoints is required")
	case len(cfg.Tag) > MaxTagSize:
		return nil, fmt.Errorf("anchor: tag of %d bytes exceeds %d", len(cfg.Tag), MaxTagSize)
	case cfg.StartHeight < 0:
		return nil, errors.New("anchor: negative StartHeight")
	case cfg.Depth < 0:
		return nil, errors.New("anchor: negative Depth")
	}
	cfg.Tag = append([]byte(nil), cfg.Tag...)
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	cfg.BumpAfter = cmp.Or(cfg.BumpAfter, DefaultBumpAfter)
	cfg.Depth = cmp.Or(cfg.Depth, DefaultDepth)
	cfg.FeeFloor = cmp.Or(cfg.FeeFloor, DefaultFeeFloor)
	cfg.FeeCap = cmp.Or(cfg.FeeCap, DefaultFeeCap)
	cfg.RelayFee = cmp.Or(cfg.RelayFee, DefaultRelayFee)
	cfg.ConfTarget = cmp.Or(cfg.ConfTarget, DefaultConfTarget)
	cfg.CallTimeout = cmp.Or(cfg.CallTimeout, DefaultCallTimeout)
	cfg.Poll = cmp.Or(cfg.Poll, DefaultPoll)
	cfg.Poll = min(cfg.Poll, cfg.Interval, cfg.BumpAfter)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	policy := FeePolicy{Floor: cfg.FeeFloor, Cap: cfg.FeeCap, Relay: cfg.RelayFee}
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	addr, err := Address(cfg.Key, cfg.Params)
	if err != nil {
		return nil, err
	}
	a := &Anchorer{
		cfg:     cfg,
		policy:  policy,
		script:  pkScript(cfg.Key),
		address: addr.EncodeAddress(),
		vsize:   anchorVSize(len(cfg.Tag) + merkle.HashSize),
		log:     cfg.Logger,
	}

	lctx, cancel := context.WithTimeout(ctx, cfg.CallTimeout)
	defer cancel()
	recs, wallet, err := cfg.Store.LoadAnchorState(lctx)
	if err != nil {
		return nil, fmt.Errorf("anchor: load state: %w", err)
	}
	a.st, err = loadState(recs, wallet, a.script, cfg.StartHeight, int64(cfg.Depth), cfg.keepBlocks)
	if err != nil {
		return nil, err
	}
	if f := a.st.f; cfg.StartHeight < f.start {
		a.log.Info("anchor: StartHeight lowered: rescanning", "from", cfg.StartHeight, "was", f.start)
		f.start = cfg.StartHeight
		a.st.rescan(cfg.Now())
	}
	a.log.Info("anchor: loaded", "address", a.address, "network", cfg.Params.Name,
		"records", len(a.st.records), "height", a.st.f.tipHeight())
	return a, nil
}

// Address returns the P2WPKH address that funds the anchorer.
func (a *Anchorer) Address() string { return a.address }

// Run steps every Config.Poll until ctx is done, logging what fails; it returns nil
// when ctx is done. A node outage only delays anchoring.
func (a *Anchorer) Run(ctx context.Context) error {
	for {
		a.stepMu.Lock()
		more, err := a.step(ctx)
		a.stepMu.Unlock()
		if err != nil && ctx.Err() == nil {
			a.log.Warn("anchor: step failed", "err", err)
		}
		wait := a.cfg.Poll
		if more && err == nil {
			wait = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Step performs one round: follow the chain, then rebroadcast, replace or create an
// anchor as needed. Errors are about this round only; the next one starts afresh.
func (a *Anchorer) Step(ctx context.Context) error {
	a.stepMu.Lock()
	defer a.stepMu.Unlock()
	_, err := a.step(ctx)
	return err
}

func (a *Anchorer) step(ctx context.Context) (more bool, err error) {
	more, err = a.follow(ctx)
	a.mu.Lock()
	a.synced = err == nil && !more
	a.mu.Unlock()
	if serr := a.save(ctx); serr != nil {
		return false, errors.Join(err, serr)
	}
	if err != nil || more {
		return more, err
	}

	a.mu.Lock()
	a.st.checkCoins()
	a.mu.Unlock()
	if err := a.save(ctx); err != nil {
		return false, err
	}

	pending := a.st.pending()
	var errs []error
	for _, r := range pending {
		if r.Mined != nil {
			continue // in a block, waiting for depth
		}
		if a.cfg.Now().Sub(r.Pending) >= a.cfg.BumpAfter {
			errs = append(errs, a.bump(ctx, r))
		} else {
			errs = append(errs, a.broadcast(ctx, r, r.Current, false))
		}
	}
	if len(pending) == 0 {
		errs = append(errs, a.maybeAnchor(ctx))
	}
	return false, errors.Join(errs...)
}

// callCtx returns the context of one node or store call.
func (a *Anchorer) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.cfg.CallTimeout)
}

// follow brings the follower to the node's best chain: it disconnects the blocks
// the node no longer has, then connects the new ones (at most maxBlocksPerStep;
// more reports that some remain).
func (a *Anchorer) follow(ctx context.Context) (more bool, err error) {
	const attempts = 3 // the node's chain may change while we read it
	for range attempts {
		tipHeight, err := a.blockCount(ctx)
		if err != nil {
			return false, err
		}
		if err := a.unwind(ctx, tipHeight); err != nil {
			return false, err
		}
		more, err := a.catchUp(ctx, tipHeight)
		if errors.Is(err, errNotExtending) {
			a.log.Info("anchor: the node's chain changed while scanning; again")
			continue
		}
		return more, err
	}
	return true, nil
}

// unwind disconnects tip blocks until the follower's tip is in the node's chain.
func (a *Anchorer) unwind(ctx context.Context, nodeHeight int64) error {
	for {
		t, ok := a.st.f.tip()
		if !ok {
			return nil
		}
		if t.Height <= nodeHeight {
			h, err := a.blockHash(ctx, t.Height)
			if err != nil {
				return err
			}
			if h == t.Hash {
				return nil
			}
		}
		a.mu.Lock()
		ref, err := a.st.disconnect(a.cfg.Now())
		if errors.Is(err, errReorgTooDeep) {
			a.st.rescan(a.cfg.Now())
		}
		a.mu.Unlock()
		switch {
		case errors.Is(err, errReorgTooDeep):
			a.log.Warn("anchor: reorganization deeper than the kept blocks: rescanning",
				"from", a.st.f.start, "at", t.Height)
			return nil
		case err != nil:
			return err
		}
		a.log.Info("anchor: block disconnected", "height", ref.Height, "hash", ref.Hash)
	}
}

// catchUp connects the node's blocks above the follower's tip up to nodeHeight.
func (a *Anchorer) catchUp(ctx context.Context, nodeHeight int64) (more bool, err error) {
	for n := 0; a.st.f.nextHeight() <= nodeHeight; n++ {
		if n == maxBlocksPerStep {
			return true, nil
		}
		height := a.st.f.nextHeight()
		hash, err := a.blockHash(ctx, height)
		if err != nil {
			return false, err
		}
		blk, err := a.block(ctx, hash)
		if err != nil {
			return false, err
		}
		a.mu.Lock()
		before := a.minedCount()
		err = a.st.connect(height, blk)
		after := a.minedCount()
		a.mu.Unlock()
		if err != nil {
			return false, err
		}
		if after > before {
			a.log.Info("anchor: anchor in a block", "height", height, "block", hash)
		}
	}
	return false, nil
}

func (a *Anchorer) minedCount() int {
	n := 0
	for _, r := range a.st.records {
		if r.Mined != nil {
			n++
		}
	}
	return n
}

func (a *Anchorer) blockCount(ctx context.Context) (int64, error) {
	cctx, cancel := a.callCtx(ctx)
	defer cancel()
	n, err := a.cfg.Node.BlockCount(cctx)
	if err != nil {
		return 0, nodeError("block count", err)
	}
	return n, nil
}

func (a *Anchorer) blockHash(ctx context.Context, height int64) (chainhash.Hash, error) {
	cctx, cancel := a.callCtx(ctx)
	defer cancel()
	h, err := a.cfg.Node.BlockHash(cctx, height)
	if err != nil {
		return h, nodeError(fmt.Sprintf("hash of block %d", height), err)
	}
	return h, nil
}

func (a *Anchorer) block(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error) {
	cctx, cancel := a.callCtx(ctx)
	defer cancel()
	blk, err := a.cfg.Node.Block(cctx, hash)
	if err != nil {
		return nil, nodeError("block "+hash.String(), err)
	}
	return blk, nil
}

func (a *Anchorer) estimateRate(ctx context.Context) (SatPerVByte, error) {
	cctx, cancel := a.callCtx(ctx)
	defer cancel()
	est, err := a.cfg.Node.EstimateFee(cctx, a.cfg.ConfTarget)
	if err != nil {
		return 0, nodeError("fee estimate", err)
	}
	return a.policy.Rate(est), nil
}

// nodeError adds what was asked to an error from the node, unless the Node
// implementation's error already says it (as RPC's do).
func nodeError(what string, err error) error {
	if strings.HasPrefix(err.Error(), "anchor: node: ") {
		return err
	}
	return fmt.Errorf("anchor: node: %s: %w", what, err)
}

// save writes what changed to the store.
func (a *Anchorer) save(ctx context.Context) error {
	a.mu.RLock()
	recs, wallet := a.st.encodeDirty()
	a.mu.RUnlock()
	if len(recs) == 0 && wallet == nil {
		return nil
	}
	cctx, cancel := a.callCtx(ctx)
	defer cancel()
	if err := a.cfg.Store.SaveAnchorState(cctx, recs, wallet); err != nil {
		return fmt.Errorf("anchor: save state: %w", err)
	}
	a.mu.Lock()
	a.st.clean()
	a.mu.Unlock()
	return nil
}

// maybeAnchor creates, saves and broadcasts a new anchor if the newest checkpoint
// is larger than every anchored size and Interval has passed since the last anchor.
func (a *Anchorer) maybeAnchor(ctx context.Context) error {
	cp := a.cfg.Checkpoints.LatestCheckpoint()
	if cp.Size <= a.st.anchoredSize() {
		return nil
	}
	now := a.cfg.Now()
	if n := len(a.st.records); n > 0 && now.Sub(a.st.records[n-1].Created) < a.cfg.Interval {
		return nil
	}
	c, err := a.st.pickCoin()
	if err != nil {
		return fmt.Errorf("%w: fund %s", err, a.address)
	}
	rate, err := a.estimateRate(ctx)
	if err != nil {
		return err
	}
	in := spendable{OutPoint: c.OutPoint, Value: c.Value}
	v, err := a.newVersion(in, cp, rate.Fee(a.vsize), now)
	if err != nil {
		return err
	}
	r := &record{ID: a.st.nextID(), Created: now, Pending: now, OutPoint: c.OutPoint, Value: c.Value, Versions: []*version{v}}
	a.mu.Lock()
	a.st.add(r)
	a.mu.Unlock()
	if err := a.save(ctx); err != nil {
		a.mu.Lock()
		a.st.remove(r)
		a.mu.Unlock()
		return err
	}
	a.log.Info("anchor: new anchor", "id", r.ID, "size", v.Size, "root", v.Root, "txid", v.TxID,
		"fee", int64(v.Fee), "rate", rate, "coin", c.OutPoint)
	return a.broadcast(ctx, r, 0, true)
}

// newVersion builds and signs a transaction spending in that commits cp's root.
func (a *Anchorer) newVersion(in spendable, cp notary.Checkpoint, fee btcutil.Amount, now time.Time) (*version, error) {
	tx, err := buildAnchorTx(a.cfg.Key, in, Payload(a.cfg.Tag, cp.Root), fee)
	if err != nil {
		return nil, err
	}
	return &version{Tx: serialize(tx), TxID: tx.TxHash(), Size: cp.Size, Root: cp.Root, Fee: fee, VSize: vsize(tx), Created: now}, nil
}

// bump replaces r's current transaction by one committing the newest checkpoint
// with a higher fee, saves it, then broadcasts it.
func (a *Anchorer) bump(ctx context.Context, r *record) error {
	prev := r.Versions[r.Current]
	cp := a.cfg.Checkpoints.LatestCheckpoint()
	if cp.Size < prev.Size {
		cp = notary.Checkpoint{Size: prev.Size, Root: prev.Root}
	}
	rate, err := a.estimateRate(ctx)
	if err != nil {
		return err
	}
	fee, err := a.policy.BumpFee(prev.Fee, prev.VSize, a.vsize, rate)
	if err != nil {
		// Keep the current version in the mempool; try again after BumpAfter.
		a.mu.Lock()
		r.Pending = a.cfg.Now()
		a.mu.Unlock()
		return errors.Join(fmt.Errorf("anchor: anchor %d: %w", r.ID, err), a.broadcast(ctx, r, r.Current, false))
	}
	now := a.cfg.Now()
	v, err := a.newVersion(spendable{OutPoint: r.OutPoint, Value: r.Value}, cp, fee, now)
	if err != nil {
		return errors.Join(fmt.Errorf("anchor: anchor %d: %w", r.ID, err), a.broadcast(ctx, r, r.Current, false))
	}
	a.mu.Lock()
	old := *r
	r.Versions = append(r.Versions[:len(r.Versions):len(r.Versions)], v)
	r.Current = len(r.Versions) - 1
	r.Pending = now
	a.st.touch(r)
	a.mu.Unlock()
	if err := a.save(ctx); err != nil {
		a.mu.Lock()
		*r = old
		a.mu.Unlock()
		return err
	}
	a.log.Info("anchor: fee bump", "id", r.ID, "size", v.Size, "txid", v.TxID, "replaces", prev.TxID,
		"fee", int64(v.Fee), "previous_fee", int64(prev.Fee))
	return a.broadcast(ctx, r, r.Current, true)
}

// broadcast sends version vi of r. An answer that the node already has it is
// success. fresh says the version was just built: if the node refuses it, it is
// marked rejected and the record falls back to its previous version, or is abandoned
// if it has none.
func (a *Anchorer) broadcast(ctx context.Context, r *record, vi int, fresh bool) error {
	v := r.Versions[vi]
	tx, err := parseTx(v.Tx)
	if err != nil {
		return err
	}
	cctx, cancel := a.callCtx(ctx)
	err = a.cfg.Node.SendRawTransaction(cctx, tx)
	cancel()
	if err == nil || errors.Is(err, ErrTxKnown) {
		a.mu.Lock()
		v.Sent = true
		a.mu.Unlock()
	}
	switch {
	case err == nil:
		a.log.Debug("anchor: broadcast", "id", r.ID, "txid", v.TxID)
		return nil
	case errors.Is(err, ErrTxKnown):
		return nil
	case errors.Is(err, ErrTxConflict) && !fresh:
		// Most likely another version is in a block the follower has not seen yet.
		a.log.Info("anchor: transaction conflicts; waiting for the chain", "id", r.ID, "txid", v.TxID, "err", err)
		return nil
	case (errors.Is(err, ErrTxConflict) || errors.Is(err, ErrTxRejected)) && fresh:
		a.mu.Lock()
		v.Rejected = err.Error()
		if i := r.accepted(); i >= 0 {
			r.Current = i
		} else {
			r.Abandoned = "every version was rejected"
		}
		a.st.touch(r)
		a.mu.Unlock()
		return errors.Join(fmt.Errorf("anchor: anchor %d: transaction %v refused: %w", r.ID, v.TxID, err), a.save(ctx))
	}
	return fmt.Errorf("anchor: anchor %d: broadcast %v: %w", r.ID, v.TxID, err)
}

// Covering implements service.AnchorSource: the earliest final anchor whose size
// exceeds index, else the earliest pending one, else nil.
func (a *Anchorer) Covering(ctx context.Context, index int64) (*service.Anchor, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var fallback *record
	for _, r := range a.st.records {
		if !r.live() || r.effective().Size <= index {
			continue
		}
		if a.st.status(r) == service.AnchorFinal {
			an := a.anchorOf(r)
			return &an, nil
		}
		if fallback == nil {
			fallback = r
		}
	}
	if fallback == nil {
		return nil, nil
	}
	an := a.anchorOf(fallback)
	return &an, nil
}

// Anchors returns the live anchors, newest first.
func (a *Anchorer) Anchors() []service.Anchor {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []service.Anchor
	for i := len(a.st.records) - 1; i >= 0; i-- {
		if r := a.st.records[i]; r.live() {
			out = append(out, a.anchorOf(r))
		}
	}
	return out
}

func (a *Anchorer) anchorOf(r *record) service.Anchor {
	return r.anchor(a.st.confirmations(r), a.st.depth, a.cfg.Params.Name)
}

// Wallet describes the anchorer's funds as of the last Step.
func (a *Anchorer) Wallet(ctx context.Context) (WalletInfo, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	info := WalletInfo{Address: a.address, Network: a.cfg.Params.Name, Height: a.st.f.tipHeight(), Synced: a.synced}
	for _, c := range a.st.f.unspent() {
		info.Coins++
		info.Balance += c.Value
		if a.st.f.mature(c, a.st.depth) && !a.st.reserved(c.OutPoint) {
			info.Spendable += c.Value
		}
	}
	return info, nil
}

// Reload replaces the anchorer's state by the one saved in its store: a process that
// follows the log while another anchors it calls it to report that one's anchors.
func (a *Anchorer) Reload(ctx context.Context) error {
	a.stepMu.Lock()
	defer a.stepMu.Unlock()
	lctx, cancel := context.WithTimeout(ctx, a.cfg.CallTimeout)
	defer cancel()
	recs, wallet, err := a.cfg.Store.LoadAnchorState(lctx)
	if err != nil {
		return fmt.Errorf("anchor: load state: %w", err)
	}
	st, err := loadState(recs, wallet, a.script, a.cfg.StartHeight, int64(a.cfg.Depth), a.cfg.keepBlocks)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.st = st
	a.mu.Unlock()
	return nil
}
