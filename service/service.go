package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/witness"
)

// ErrClosed is returned for submissions made while the service shuts down.
var ErrClosed = errors.New("notary: the service is shutting down")

// Config configures a Service.
type Config struct {
	// Signer signs checkpoints and batch receipts; its name is the log's origin.
	Signer note.Signer
	// Verifier is the signed-note verifier key matching Signer; proofs carry it.
	Verifier string
	// Store keeps the log durably.
	Store Store
	// CheckpointInterval is how often a new checkpoint is signed when the log has grown (default 1 s).
	CheckpointInterval time.Duration
	// MaxBatch caps how many digests one durable transaction takes (default 8192).
	MaxBatch int
	// ServiceURL, if set, is written into proofs as the place to upgrade them.
	ServiceURL string
	// SignedHead, if set, remembers outside the Store the greatest checkpoint the log's key
	// has signed; New refuses a Store that is behind it or contradicts it (see HeadFile).
	SignedHead SignedHead
	// MaxUnindexed bounds the durable entries the digest index may lag behind, which the
	// sequencer holds in memory meanwhile: past it, submissions are pushed back with
	// ErrPushback until the index catches up (default 1<<20).
	MaxUnindexed int64
	// Witnesses, if set, are sent every new checkpoint the writer signs; the ones a quorum
	// of them cosign are published with their cosignatures (see PublishedCheckpoint) and
	// given in pending proofs. A follower does not talk to them.
	Witnesses *witness.Pool
	// FollowInterval is how often a follower reads the log's head whatever it was told:
	// by default every 5 s on a store that tells it when the head moves (HeadWatcher),
	// else every 200 ms. The writer ignores it.
	FollowInterval time.Duration
	Logger         *slog.Logger
	Now            func() time.Time // default time.Now
	Rand           io.Reader        // nonces; default crypto/rand
}

// Service sequences submissions into the log, signs checkpoints and assembles proofs. All
// methods are safe for concurrent use. Run must be running for submissions to complete.
type Service struct {
	cfg     Config
	store   Store
	anchors atomic.Value // AnchorSource

	queue   chan *request
	closing chan struct{} // closed when Run begins to shut down
	closed  chan struct{} // closed when Run has drained the queue

	follower  bool                  // reads a log another process writes (NewFollower)
	lagAt     atomic.Int64          // follower: when it last read the log's head (Unix ns)
	lag       atomic.Int64          // follower: entries the head had moved by since the read before
	follow    followStats           // follower: how it learns of the head's moves
	epoch     int64                 // the store epoch this service leads at
	deposed   atomic.Pointer[error] // why this service stopped writing the log, once it has
	stepDown  chan struct{}         // closed when deposed is set
	stepDownO sync.Once

	// mu guards recent: the digests of the entries [recentBase, next), the ones the
	// digest index of the store may not hold yet, to their entries' indexes. Only the
	// sequencer adds to it, and it drops what the index holds (see prune).
	mu         sync.RWMutex
	recent     map[notary.Digest]int64
	recentLog  []notary.Digest // the digests of the entries [recentBase, next), in order
	recentBase int64

	lookups  *digestLookups      // the store's digest index, looked up for many requests at once
	anchored anchoredCheckpoints // the checkpoints of final anchors, for complete proofs
	hashes   *hashCache          // the store's hashes, the most used kept in memory

	indexed atomic.Int64 // the store's IndexedSize, as the indexer last moved it
	grown   signal       // notified when the log grows, to wake the indexer

	size       atomic.Int64 // entries durably stored
	checkpoint atomic.Pointer[notary.Checkpoint]
	// checkpointAt is when this process signed or loaded the latest checkpoint (Unix ns).
	checkpointAt atomic.Int64
	signed       signal // notified when the writer signs a new latest checkpoint

	// With witnesses: the latest checkpoint cosigned by a quorum, and the one published
	// (see witness.go).
	cosigned  atomic.Pointer[notary.Checkpoint]
	published atomic.Pointer[notary.Checkpoint]

	// anchorsChanged wakes whoever waits for a change of the anchors (see wait.go);
	// longPolls counts them.
	anchorsChanged signal
	longPolls      atomic.Int64

	// edge is the right edge of the log's tree, from which the sequencer computes the
	// hashes of new entries, and next the index of the next new entry: both count the
	// entries prepared, durable or not. Only the sequencer touches them.
	edge rightEdge
	next int64
}

// request is one submission travelling through the sequencer.
type request struct {
	digests []notary.Digest
	// found[k] is the index of digests[k]'s entry as looked up before the request was
	// queued, or -1; the digest index then held the entries [0, checked).
	found   []int64
	checked int64
	entries []notary.Entry // set by the sequencer: the entry of each digest, new or old
	leaves  []merkle.Hash  // set by the sequencer: the leaf hash of each new entry, else zero
	commit  *pending       // set by the sequencer: the commit that logged the new entries
	err     error
	done    chan struct{}
}

// check checks that cfg has what a service needs and gives the rest their defaults.
func (cfg *Config) check() error {
	if cfg.Signer == nil || cfg.Store == nil || cfg.Verifier == "" {
		return errors.New("notary: Config needs Signer, Verifier and Store")
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = time.Second
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 8192
	}
	if cfg.MaxUnindexed <= 0 {
		cfg.MaxUnindexed = 1 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return nil
}

// ErrPushback is returned for submissions while the service cannot take more: the
// sequencer's queue is full, or the digest index lags too far behind the log. Nothing was
// logged; submit again a little later.
var ErrPushback = errors.New("notary: too many submissions at once; try again shortly")

// ErrIndexBehind is returned by a follower's lookups of a digest it does not find while the
// digest index lags further behind the log than Config.MaxUnindexed, which the writer
// allows only while it rebuilds the index: the digest may be among the entries not indexed
// yet, so "not found" would not be known. Try again a little later.
var ErrIndexBehind = errors.New("notary: the digest index is being rebuilt and does not cover the log yet; try again shortly")

// New opens the service on its store. Its cost does not grow with the log: it reads the
// log's size and right edge, checks them against the latest signed checkpoint (signing
// the first one if there is none) and against cfg.SignedHead, and loads the digests the
// digest index does not hold yet. The full audit of the stored log is Audit.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := &Service{
		cfg:      cfg,
		store:    cfg.Store,
		lookups:  newDigestLookups(cfg.Store),
		hashes:   newHashCache(cfg.Store),
		queue:    make(chan *request, 4096),
		closing:  make(chan struct{}),
		closed:   make(chan struct{}),
		stepDown: make(chan struct{}),
		recent:   make(map[notary.Digest]int64),
	}
	// Lead first, then read the head: no writer that led before can move it after this.
	epoch, err := s.store.Lead(ctx)
	if err != nil {
		return nil, fmt.Errorf("notary: becoming the log's writer: %w", err)
	}
	s.epoch = epoch
	n, err := s.store.LogSize(ctx)
	if err != nil {
		return nil, fmt.Errorf("notary: reading the log's size: %w", err)
	}
	s.size.Store(n)
	s.next = n
	if s.edge, err = loadRightEdge(n, HashReader(ctx, s.store)); err != nil {
		return nil, fmt.Errorf("notary: reading the log's right edge: %w", err)
	}
	if err := s.checkHead(ctx, n); err != nil {
		return nil, err
	}
	if err := s.loadRecent(ctx, n); err != nil {
		return nil, err
	}
	return s, nil
}

// checkHead checks the stored log of n entries against the latest checkpoint it stores
// and against the one the key signed last (cfg.SignedHead), and loads the former: a log
// that is shorter than a signed checkpoint, or whose tree differs from it, would make
// the service sign checkpoints that contradict receipts already given.
func (s *Service) checkHead(ctx context.Context, n int64) error {
	if h := s.cfg.SignedHead; h != nil {
		signed, err := h.Latest()
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return fmt.Errorf("notary: reading the latest signed checkpoint: %w", err)
		default:
			if err := s.matches(ctx, signed, n, "the log's key signed"); err != nil {
				return err
			}
		}
	}
	cp, err := s.store.LatestCheckpoint(ctx)
	switch {
	case errors.Is(err, ErrNotFound):
		return s.publishCheckpoint(ctx, nil)
	case err != nil:
		return fmt.Errorf("notary: loading the latest checkpoint: %w", err)
	}
	if err := s.matches(ctx, cp, n, "the database stores"); err != nil {
		return err
	}
	s.checkpoint.Store(&cp)
	s.checkpointAt.Store(s.cfg.Now().UnixNano())
	return nil
}

// matches checks that the stored log of n entries contains the tree of checkpoint cp,
// which source describes, reading O(log n) stored hashes.
func (s *Service) matches(ctx context.Context, cp notary.Checkpoint, n int64, source string) error {
	if cp.Origin != s.Origin() {
		return fmt.Errorf("notary: %s a checkpoint of the log %q, but this log is %q: refusing to start", source, cp.Origin, s.Origin())
	}
	if cp.Size > n {
		return fmt.Errorf("notary: %s a checkpoint of size %d, but the database holds only %d entries: "+
			"it lost entries that were acknowledged, or it is an older copy; refusing to start "+
			"(restore the database that holds them, or start a new log under a new origin and key)", source, cp.Size, n)
	}
	var root merkle.Hash
	if cp.Size == n && n > 0 {
		root = s.edge.root()
	} else {
		var err error
		if root, err = merkle.TreeHash(cp.Size, HashReader(ctx, s.store)); err != nil {
			return fmt.Errorf("notary: recomputing the root at size %d: %w", cp.Size, err)
		}
	}
	if root != cp.Root {
		return fmt.Errorf("notary: %s a checkpoint of size %d with root %s, but the database's log has root %s at that size: "+
			"the database was altered or replaced; refusing to start (run notary audit to find what changed)", source, cp.Size, cp.Root, root)
	}
	return nil
}

// loadRecent loads the digests of the entries the digest index does not hold yet, after
// bringing the index to within MaxUnindexed of the log's n entries.
func (s *Service) loadRecent(ctx context.Context, n int64) error {
	indexed, err := s.store.IndexedSize(ctx)
	if err != nil {
		return fmt.Errorf("notary: reading the digest index's size: %w", err)
	}
	for n-indexed > s.cfg.MaxUnindexed {
		to := min(n, indexed+indexChunk)
		if err := s.store.IndexDigests(ctx, to); err != nil {
			return fmt.Errorf("notary: indexing the digests of entries %d to %d: %w", indexed, to-1, err)
		}
		s.cfg.Logger.Info("indexing digests", "indexed", to, "size", n)
		indexed = to
	}
	s.indexed.Store(indexed)
	s.recentBase = indexed
	err = s.store.ScanEntries(ctx, indexed, func(e notary.Entry) error {
		if e.Index >= n {
			return errStopScan
		}
		if e.Index != indexed+int64(len(s.recentLog)) {
			return fmt.Errorf("notary: the stored log has entry %d where %d belongs", e.Index, indexed+int64(len(s.recentLog)))
		}
		s.recentLog = append(s.recentLog, e.Digest)
		if _, dup := s.recent[e.Digest]; !dup {
			s.recent[e.Digest] = e.Index
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return fmt.Errorf("notary: loading the digests not indexed yet: %w", err)
	}
	if got := indexed + int64(len(s.recentLog)); got != n {
		return fmt.Errorf("notary: the stored log ends at entry %d, want %d", got, n)
	}
	return nil
}

var errStopScan = errors.New("stop scan")

// indexChunk is the most entries one IndexDigests call indexes.
const indexChunk = 1 << 16

// SetAnchors tells the service where to find Bitcoin anchors. Call it before serving lookups.
func (s *Service) SetAnchors(a AnchorSource) { s.anchors.Store(&a) }

func (s *Service) anchorSource() AnchorSource {
	if a, ok := s.anchors.Load().(*AnchorSource); ok {
		return *a
	}
	return nil
}

// Origin returns the log's name.
func (s *Service) Origin() string { return s.cfg.Signer.Name() }

// VerifierKey returns the log's signed-note verifier key.
func (s *Service) VerifierKey() string { return s.cfg.Verifier }

// Size returns the number of entries durably in the log.
func (s *Service) Size() int64 { return s.size.Load() }

// LatestCheckpoint returns the newest signed checkpoint. It implements CheckpointSource.
func (s *Service) LatestCheckpoint() notary.Checkpoint { return *s.checkpoint.Load() }

// Run sequences submissions and publishes checkpoints until ctx is done. It then stops
// taking submissions, commits every one already queued, publishes a last checkpoint and returns.
func (s *Service) Run(ctx context.Context) error {
	if s.follower {
		return s.runFollower(ctx)
	}
	sequencerDone := make(chan struct{})
	go func() {
		defer close(sequencerDone)
		s.sequence()
	}()
	indexerCtx, stopIndexer := context.WithCancel(context.WithoutCancel(ctx))
	indexerDone := make(chan struct{})
	go func() {
		defer close(indexerDone)
		s.runIndexer(indexerCtx)
	}()
	defer func() { stopIndexer(); <-indexerDone }()
	if s.cfg.Witnesses != nil {
		witnessCtx, stopWitnesses := context.WithCancel(ctx)
		witnessesDone := make(chan struct{})
		go func() {
			defer close(witnessesDone)
			s.runWitnesses(witnessCtx)
		}()
		defer func() { stopWitnesses(); <-witnessesDone }()
	}
	ticker := time.NewTicker(s.cfg.CheckpointInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			if err := s.publishCheckpoint(ctx, s.checkpoint.Load()); err != nil {
				s.cfg.Logger.Error("publishing checkpoint", "err", err)
			}
		case <-s.stepDown:
			close(s.closing)
			<-sequencerDone
			close(s.closed)
			return *s.deposed.Load()
		case <-ctx.Done():
			close(s.closing)
			<-sequencerDone
			close(s.closed)
			// The context is done; the last checkpoint gets a short one of its own.
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stopIndexer()
			<-indexerDone
			err := s.publishCheckpoint(cctx, s.checkpoint.Load())
			// Index what is left, so that the next start has fewer digests to load.
			if size := s.size.Load(); err == nil && size > s.indexed.Load() {
				if ierr := s.store.IndexDigests(cctx, size); ierr != nil {
					s.cfg.Logger.Warn("indexing the last digests", "err", ierr)
				} else {
					s.indexed.Store(size)
				}
			}
			return err
		}
	}
}

// publishCheckpoint signs and stores a checkpoint of the current size if the log grew
// since prev, after checking that the new tree is consistent with prev's.
func (s *Service) publishCheckpoint(ctx context.Context, prev *notary.Checkpoint) error {
	size := s.size.Load()
	if prev != nil && size == prev.Size {
		return nil
	}
	hashes := HashReader(ctx, s.hashes)
	root, err := merkle.TreeHash(size, hashes)
	if err != nil {
		return fmt.Errorf("notary: computing root at size %d: %w", size, err)
	}
	if prev != nil && prev.Size > 0 {
		proof, err := merkle.ConsistencyProof(prev.Size, size, hashes)
		if err != nil {
			return fmt.Errorf("notary: consistency proof %d→%d: %w", prev.Size, size, err)
		}
		if err := merkle.VerifyConsistency(prev.Size, size, prev.Root, root, proof); err != nil {
			return fmt.Errorf("notary: refusing to sign size %d: not consistent with the checkpoint at %d: %w", size, prev.Size, err)
		}
	}
	cp, err := notary.SignCheckpoint(size, root, s.cfg.Signer)
	if err != nil {
		return err
	}
	if err := s.store.SaveCheckpoint(ctx, cp); err != nil {
		return fmt.Errorf("notary: saving checkpoint: %w", err)
	}
	if h := s.cfg.SignedHead; h != nil {
		if err := h.Record(cp); err != nil {
			return fmt.Errorf("notary: recording the signed checkpoint: %w", err)
		}
		if err := h.Sync(); err != nil {
			return fmt.Errorf("notary: recording the signed checkpoint: %w", err)
		}
	}
	s.checkpoint.Store(&cp)
	s.checkpointAt.Store(s.cfg.Now().UnixNano())
	s.signed.notify()
	return nil
}

// Submit logs digest d and returns its timestamp once the entry is durable, with the
// receipt as its proof: the entry's inclusion in a checkpoint signed for the commit that
// logged it, so that one signature serves every submission of a group commit. Such a
// checkpoint is consistent with every other but is not stored; LatestCheckpoint publishes
// its successors. A digest logged before keeps its first entry and gets a proof in the
// latest checkpoint, or in one signed now if none covers the entry yet.
func (s *Service) Submit(ctx context.Context, d notary.Digest) (*Timestamp, error) {
	r, err := s.sequenced(ctx, []notary.Digest{d})
	if err != nil {
		return nil, err
	}
	e := r.entries[0]
	if c := r.commit; c != nil && e.Index >= c.base {
		path, err := merkle.InclusionProof(e.Index, c.checkpoint.Size, c.proofs)
		if err != nil {
			return nil, fmt.Errorf("notary: inclusion proof of the new entry %d: %w", e.Index, err)
		}
		cp := c.checkpoint
		return &Timestamp{Entry: e, Status: StatusPending, Proof: s.logProof(e, cp, path), Checkpoint: &cp}, nil
	}
	return s.receipted(ctx, e.Index)
}

// receipted returns the timestamp of the durable entry at index, with a proof in the latest
// checkpoint if it covers the entry and else in a checkpoint of the log's size signed now.
func (s *Service) receipted(ctx context.Context, index int64) (*Timestamp, error) {
	ts, err := s.TimestampAt(ctx, index)
	if err != nil || ts.Proof != nil {
		return ts, err
	}
	size := s.size.Load()
	hashes := HashReader(ctx, s.hashes)
	root, err := merkle.TreeHash(size, hashes)
	if err != nil {
		return nil, fmt.Errorf("notary: computing root at size %d: %w", size, err)
	}
	cp, err := notary.SignCheckpoint(size, root, s.cfg.Signer)
	if err != nil {
		return nil, err
	}
	path, err := merkle.InclusionProof(index, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("notary: inclusion proof of %d in %d: %w", index, size, err)
	}
	ts.Proof, ts.Checkpoint = s.logProof(ts.Entry, cp, path), &cp
	return ts, nil
}

// logProof returns the proof that entry e is in the log at checkpoint cp, path being its
// inclusion path.
func (s *Service) logProof(e notary.Entry, cp notary.Checkpoint, path []merkle.Hash) *notary.Proof {
	return &notary.Proof{
		Format:  notary.ProofFormat,
		Digest:  e.Digest,
		Entry:   notary.ProofEntry{Index: e.Index, ReceivedMS: e.Time.UnixMilli(), Nonce: e.Nonce[:]},
		Log:     notary.ProofLog{Key: s.cfg.Verifier, Checkpoint: string(cp.Note), Inclusion: path},
		Service: s.cfg.ServiceURL,
	}
}

// sequenced has digests logged, those that are new, and returns their request once every
// new entry is durable: the entry of each digest, in order (an entry logged before has
// only Index and Digest set), the leaf hash of each new one, and the commit that logged them.
func (s *Service) sequenced(ctx context.Context, digests []notary.Digest) (*request, error) {
	req := &request{digests: digests}
	if err := s.lookup(ctx, req, nil); err != nil {
		return nil, err
	}
	if !slices.Contains(req.found, -1) {
		req.entries = make([]notary.Entry, len(digests))
		for i, d := range digests {
			req.entries[i] = notary.Entry{Index: req.found[i], Digest: d}
		}
		return req, nil
	}
	if s.follower {
		return nil, ErrNotWriter
	}
	if d := s.deposed.Load(); d != nil {
		return nil, *d
	}
	if s.size.Load()-s.indexed.Load() > s.cfg.MaxUnindexed {
		return nil, ErrPushback
	}
	req.done = make(chan struct{})
	select {
	case <-s.closing:
		return nil, ErrClosed
	default:
	}
	select {
	case s.queue <- req:
	case <-s.closing:
		return nil, ErrClosed
	default:
		return nil, ErrPushback // the queue is full: say so now rather than wait behind it
	}
	select {
	case <-req.done:
	case <-s.closed:
		// The sequencer has stopped: it either answered req or never saw it.
		select {
		case <-req.done:
		default:
			return nil, ErrClosed
		}
	case <-ctx.Done():
		// The entries may still be logged; submitting again returns them.
		return nil, ctx.Err()
	}
	if req.err != nil {
		return nil, req.err
	}
	return req, nil
}

// lookup sets r.found to the index of each digest's durable entry, or -1, and r.checked.
// It looks in the recent digests first, then in the store's digest index: an entry
// dropped from the recent digests is in the index by then. If entries is not nil, it
// sets entries[k] to the entry of r.digests[k] where the store's lookup read it, and
// entries[k].Index to -1 elsewhere (the entry may be there all the same).
func (s *Service) lookup(ctx context.Context, r *request, entries []notary.Entry) error {
	r.found = make([]int64, len(r.digests))
	for k := range entries {
		entries[k].Index = -1
	}
	var missing []int // positions in r.digests of the digests to look up in the store
	s.mu.RLock()
	size := s.size.Load()
	for i, d := range r.digests {
		idx, ok := s.recent[d]
		switch {
		case ok && idx < size:
			r.found[i] = idx
		case ok: // in a commit under way: the sequencer finds it again
			r.found[i] = -1
		default:
			r.found[i] = -1
			missing = append(missing, i)
		}
	}
	s.mu.RUnlock()
	r.checked = s.indexed.Load()
	if len(missing) == 0 {
		return nil
	}
	ds := make([]notary.Digest, len(missing))
	for k, i := range missing {
		ds[k] = r.digests[i]
	}
	idx := make([]int64, len(missing))
	var read []notary.Entry
	if entries != nil && s.lookups.readsEntries() {
		read = make([]notary.Entry, len(missing))
	}
	if err := s.lookups.lookup(ctx, ds, idx, read); err != nil {
		return fmt.Errorf("notary: looking up digests: %w", err)
	}
	for k, i := range missing {
		r.found[i] = idx[k]
		if read != nil {
			entries[i] = read[k]
		}
	}
	return nil
}

// maxIdleYields is how many times the sequencer yields the processor, finding nothing
// queued, before it commits what it has.
const maxIdleYields = 16

// sequence is the single writer: it takes every request queued, gives new digests the next
// indexes and has them committed in one durable transaction (group commit), until closing.
//
// It is a pipeline of two stages: while the store makes one batch durable (write), the
// sequencer gives the next batch its entries and hashes (prepare). A batch's requests are
// answered once it is durable, and batches are written in order, so every batch before
// it is durable too. If a write fails, the batch prepared on top of it fails with it, and
// the index and the right edge go back to what they were before the failed batch.
func (s *Service) sequence() {
	writes := make(chan *pending)
	results := make(chan error)
	go s.write(writes, results)
	defer close(writes)

	var inflight *pending // sent to the writer, its result not received yet
	// send hands p to the writer once the batch in flight, on which p was built, is durable.
	send := func(p *pending) {
		if inflight != nil {
			err := <-results
			if err != nil {
				s.rollback(p, err)
				s.rollback(inflight, err)
				inflight = nil
				return
			}
			inflight = nil
		}
		if p.err != nil {
			s.rollback(p, p.err)
			return
		}
		writes <- p
		inflight = p
		s.sign(p)
	}
	for {
		var (
			first   *request
			settled chan error // results while a batch is in flight, else nil
		)
		if inflight != nil {
			settled = results
		}
		select {
		case first = <-s.queue:
		case err := <-settled:
			if err != nil {
				s.rollback(inflight, err)
			}
			inflight = nil
			continue
		case <-s.closing:
			// Drain what was queued before closing; sequenced refuses new work now.
			for {
				select {
				case r := <-s.queue:
					send(s.prepare([]*request{r}))
				default:
					if inflight != nil {
						if err := <-results; err != nil {
							s.rollback(inflight, err)
						}
					}
					return
				}
			}
		}
		// Group commit: while the batch in flight is being made durable, every request
		// that arrives joins the next batch; once the writer is free, what is queued
		// goes with it.
		batch, n, idle := []*request{first}, len(first.digests), 0
	collect:
		for n < s.cfg.MaxBatch {
			if inflight == nil {
				select {
				case r := <-s.queue:
					batch = append(batch, r)
					n += len(r.digests)
					idle = 0
					continue
				default:
				}
				// Nothing queued: let the other goroutines run a little, so that
				// requests already on their way join this commit instead of the next.
				if idle++; idle > maxIdleYields {
					break collect
				}
				runtime.Gosched()
				continue
			}
			select {
			case r := <-s.queue:
				batch = append(batch, r)
				n += len(r.digests)
			case err := <-results:
				if err != nil {
					s.rollback(inflight, err)
				}
				inflight = nil
			}
		}
		send(s.prepare(batch))
	}
}

// pending is a batch on its way to the store.
type pending struct {
	batch   []*request
	base    int64 // the index of its first new entry
	entries []notary.Entry
	hashes  []merkle.Hash
	edge    rightEdge // the right edge before the batch
	err     error     // why giving the entries failed

	// If the batch has new entries: root is the log's root as the batch leaves it, proofs
	// reads the hashes of inclusion proofs in that tree, and checkpoint is signed for it
	// while the batch is written, then signed is closed (signErr says if signing failed).
	root       merkle.Hash
	proofs     *commitHashes
	checkpoint notary.Checkpoint
	signErr    error
	signed     chan struct{}
}

// prepare gives the new digests of batch the next indexes, times and nonces, and computes
// the Merkle hashes they add to storage and the root of the log they make.
//
// A new digest enters the index as it is given its entry, so that a digest repeated
// later, in this batch or the next, finds it; until the entry is durable its index is at
// least the log size, which known, EntryOf and Lookup treat as not logged yet.
func (s *Service) prepare(batch []*request) *pending {
	now := time.UnixMilli(s.cfg.Now().UnixMilli()).UTC()
	total := 0
	for _, r := range batch {
		total += len(r.digests)
	}
	p := &pending{
		batch:   batch,
		base:    s.next,
		entries: make([]notary.Entry, 0, total),
		hashes:  make([]merkle.Hash, 0, 2*total+1),
		edge:    s.edge,
	}
	// One read for the nonces of every digest that may be new.
	nonces := make([]byte, len(notary.Entry{}.Nonce)*total)
	if _, err := io.ReadFull(s.cfg.Rand, nonces); err != nil {
		p.err = fmt.Errorf("notary: reading nonces: %w", err)
		return p
	}
	s.prune()
	if err := s.recheck(batch); err != nil {
		p.err = err
		return p
	}
	// The write lock is let go now and then, so that lookups are not held up by a long batch.
	const lockSpan = 512
	s.mu.Lock()
	defer s.mu.Unlock()
	held := 0
	for _, r := range batch {
		r.commit = p
		r.entries = make([]notary.Entry, len(r.digests))
		r.leaves = make([]merkle.Hash, len(r.digests))
		for i, d := range r.digests {
			if held++; held%lockSpan == 0 {
				s.mu.Unlock()
				s.mu.Lock()
			}
			if idx := r.found[i]; idx >= 0 {
				r.entries[i] = notary.Entry{Index: idx, Digest: d} // durable before the request was queued
				continue
			}
			if idx, ok := s.recent[d]; ok {
				if idx >= p.base {
					r.entries[i] = p.entries[idx-p.base] // new in this batch
				} else {
					// Logged before, or in the batch being written, which is durable by the
					// time this one is answered: the submitter reads the rest.
					r.entries[i] = notary.Entry{Index: idx, Digest: d}
				}
				continue
			}
			e := notary.Entry{Index: p.base + int64(len(p.entries)), Digest: d, Time: now}
			nonces = nonces[copy(e.Nonce[:], nonces):]
			r.leaves[i] = e.LeafHash()
			p.hashes = s.edge.append(r.leaves[i], p.hashes)
			s.recent[d] = e.Index
			s.recentLog = append(s.recentLog, d)
			p.entries = append(p.entries, e)
			r.entries[i] = e
		}
	}
	s.next += int64(len(p.entries))
	if len(p.entries) > 0 {
		p.root, p.proofs, p.signed = s.edge.root(), newCommitHashes(&p.edge, p.hashes), make(chan struct{})
	}
	return p
}

// runIndexer moves the store's digest index along behind the durable log until ctx is
// done: in chunks of at least minIndexChunk entries, or whatever is left once the log
// has been quiet for indexIdle.
func (s *Service) runIndexer(ctx context.Context) {
	for {
		grown := s.grown.wait()
		size, at := s.size.Load(), s.indexed.Load()
		if size-at < minIndexChunk {
			wait := indexIdle
			if size == at {
				wait = time.Hour
			}
			select {
			case <-grown:
				if s.size.Load()-at < minIndexChunk {
					// Let more entries come, unless the log goes quiet.
					select {
					case <-time.After(indexIdle):
					case <-ctx.Done():
						return
					}
				}
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
			size = s.size.Load()
		}
		if size == at {
			continue
		}
		to := min(size, at+indexChunk)
		if err := s.store.IndexDigests(ctx, to); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.cfg.Logger.Error("indexing digests", "from", at, "to", to, "err", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return
			}
			continue
		}
		s.indexed.Store(to)
	}
}

// minIndexChunk and indexIdle: the digest index takes entries in chunks of at least
// minIndexChunk, or every indexIdle if fewer have come. (Variables for tests only.)
var (
	minIndexChunk int64 = 4096
	indexIdle           = 200 * time.Millisecond
)

// prune drops from the recent digests those of the entries that the digest index has
// held for keepIndexed entries: requests looked up before the index took an entry in
// still find it in memory, unless they waited longer than that, which recheck covers.
// Only the sequencer calls it, so the recent digests cannot shrink while it prepares.
func (s *Service) prune() {
	to := s.indexed.Load() - keepIndexed
	if to <= s.recentBase {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	drop := to - s.recentBase
	for k, d := range s.recentLog[:drop] {
		if s.recent[d] == s.recentBase+int64(k) {
			delete(s.recent, d)
		}
	}
	s.recentLog = slices.Delete(s.recentLog, 0, int(drop))
	s.recentBase = to
}

// keepIndexed is how many indexed entries the recent digests keep, so that a lookup and
// the sequencing that follows it rarely straddle a prune. (A variable for tests only.)
var keepIndexed int64 = 1 << 18

// recheck looks up again, in the store's digest index, the digests not found of each
// request of batch that was looked up before the index took in entries since dropped
// from the recent digests.
func (s *Service) recheck(batch []*request) error {
	for _, r := range batch {
		if r.checked >= s.recentBase {
			continue
		}
		var ds []notary.Digest
		var at []int
		for i, idx := range r.found {
			if idx < 0 {
				ds, at = append(ds, r.digests[i]), append(at, i)
			}
		}
		found := make([]int64, len(ds))
		if err := s.store.LookupDigests(context.Background(), ds, found); err != nil {
			return fmt.Errorf("notary: looking up digests: %w", err)
		}
		for k, i := range at {
			r.found[i] = found[k]
		}
		r.checked = s.recentBase
	}
	return nil
}

// sign signs the checkpoint of the log as p leaves it: one signature for every new entry
// of p, made while the writer makes them durable.
func (s *Service) sign(p *pending) {
	if p.signed == nil {
		return
	}
	p.checkpoint, p.signErr = notary.SignCheckpoint(p.base+int64(len(p.entries)), p.root, s.cfg.Signer)
	close(p.signed)
}

// write makes the batches it is sent durable, one at a time, answers their requests,
// and reports each outcome on results. A failed batch is answered by the sequencer.
func (s *Service) write(writes <-chan *pending, results chan<- error) {
	for p := range writes {
		var err error
		if len(p.entries) > 0 {
			err = s.store.AppendEntries(context.Background(), p.entries, p.hashes)
		}
		if err == nil {
			s.size.Add(int64(len(p.entries)))
			s.grown.notify()
			var receiptErr error
			if p.signed != nil {
				<-p.signed
				receiptErr = p.signErr
				if h := s.cfg.SignedHead; receiptErr == nil && h != nil {
					receiptErr = h.Record(p.checkpoint)
				}
			}
			for _, r := range p.batch {
				if receiptErr != nil {
					r.err = fmt.Errorf("notary: the digests are logged but their checkpoint could not be signed and recorded (%w): submit them again for their receipts", receiptErr)
				}
				close(r.done)
			}
		}
		results <- err
	}
}

// rollback takes the entries of p out of the index, puts the right edge back to where it
// was before p, and answers p's requests with err.
func (s *Service) rollback(p *pending, err error) {
	s.mu.Lock()
	for _, e := range p.entries {
		delete(s.recent, e.Digest)
	}
	s.recentLog = s.recentLog[:p.base-s.recentBase]
	s.mu.Unlock()
	s.edge, s.next = p.edge, p.base
	if cause := s.assess(err); cause != nil {
		err = cause
	} else {
		err = fmt.Errorf("notary: logging failed, nothing was logged: %w", err)
	}
	for _, r := range p.batch {
		r.entries, r.leaves, r.commit, r.err = nil, nil, nil, err
		close(r.done)
	}
	s.cfg.Logger.Error("commit failed", "entries", len(p.entries), "err", err)
}

// ErrDeposed is returned (wrapped) for submissions to a service that has stopped writing
// the log: another process leads it, or the log moved in a way this one cannot account
// for. Nothing of the submission was logged by this service; submit it again, to the
// process that now writes the log.
var ErrDeposed = errors.New("notary: this process no longer writes the log")

// assess decides, after the store failed to append, whether this service can go on
// writing: not if another writer is fenced in (ErrFenced), nor if the log is not where
// this service left it (ErrOutOfSequence, or a size other than the durable size this
// service counts, as when a connection failed during a commit that went through). It then
// steps down and returns the error to answer with; otherwise it returns nil: nothing was
// written.
func (s *Service) assess(err error) error {
	base := s.size.Load()
	var cause error
	switch {
	case errors.Is(err, ErrFenced):
		cause = fmt.Errorf("%w: %w", ErrDeposed, err)
	case errors.Is(err, ErrOutOfSequence):
		cause = fmt.Errorf("%w: the log moved under it: %w", ErrDeposed, err)
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n, serr := s.store.LogSize(ctx)
		switch {
		case serr != nil:
			cause = fmt.Errorf("%w: a commit failed (%w) and the log's size could not be read back: %v", ErrDeposed, err, serr)
		case n != base:
			cause = fmt.Errorf("%w: a commit failed (%w) but the log has %d entries, not %d", ErrDeposed, err, n, base)
		}
	}
	if cause != nil {
		s.stepDownO.Do(func() {
			s.deposed.Store(&cause)
			close(s.stepDown)
			s.cfg.Logger.Error("stepping down as the log's writer", "epoch", s.epoch, "err", cause)
		})
		return *s.deposed.Load()
	}
	return nil
}

// Epoch returns the store epoch at which this service leads the log.
func (s *Service) Epoch() int64 { return s.epoch }
