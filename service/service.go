package service

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
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
	Logger     *slog.Logger
	Now        func() time.Time // default time.Now
	Rand       io.Reader        // nonces; default crypto/rand
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

	mu    sync.RWMutex
	index map[notary.Digest]int64 // every logged digest, to its entry's index

	size       atomic.Int64 // entries durably stored
	checkpoint atomic.Pointer[notary.Checkpoint]
	// checkpointAt is when this process signed or loaded the latest checkpoint (Unix ns).
	checkpointAt atomic.Int64

	// anchorsChanged wakes whoever waits for a change of the anchors (see wait.go).
	anchorsChanged signal

	// hashCache holds stored hashes read or computed while the log is loaded.
	hashCache map[int64]merkle.Hash

	// edge is the right edge of the log's tree, from which the sequencer computes the
	// hashes of new entries, and next the index of the next new entry: both count the
	// entries prepared, durable or not. Only the sequencer touches them.
	edge rightEdge
	next int64
}

// request is one submission travelling through the sequencer.
type request struct {
	digests []notary.Digest
	entries []notary.Entry // set by the sequencer: the entry of each digest, new or old
	leaves  []merkle.Hash  // set by the sequencer: the leaf hash of each new entry, else zero
	commit  *pending       // set by the sequencer: the commit that logged the new entries
	err     error
	done    chan struct{}
}

// New opens the service on its store: it loads the digest index and checks that the stored
// log still matches the latest signed checkpoint (signing the first one if there is none).
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Signer == nil || cfg.Store == nil || cfg.Verifier == "" {
		return nil, errors.New("notary: Config needs Signer, Verifier and Store")
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = time.Second
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 8192
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
	s := &Service{
		cfg:       cfg,
		store:     cfg.Store,
		queue:     make(chan *request, 4096),
		closing:   make(chan struct{}),
		closed:    make(chan struct{}),
		index:     make(map[notary.Digest]int64),
		hashCache: make(map[int64]merkle.Hash),
	}
	n, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	s.size.Store(n)
	s.next = n
	if s.edge, err = loadRightEdge(n, merkle.HashReaderFunc(s.readHashes)); err != nil {
		return nil, err
	}
	s.hashCache = nil // the sequencer needs only the edge

	cp, err := s.store.LatestCheckpoint(ctx)
	switch {
	case errors.Is(err, ErrNotFound):
		if err := s.publishCheckpoint(ctx, nil); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("notary: loading the latest checkpoint: %w", err)
	default:
		if cp.Size > n {
			return nil, fmt.Errorf("notary: the latest checkpoint has size %d but the store holds only %d entries", cp.Size, n)
		}
		root, err := merkle.TreeHash(cp.Size, s.store)
		if err != nil {
			return nil, fmt.Errorf("notary: recomputing the checkpointed root: %w", err)
		}
		if root != cp.Root {
			return nil, fmt.Errorf("notary: the stored log does not match its latest checkpoint at size %d: refusing to start", cp.Size)
		}
		s.checkpoint.Store(&cp)
		s.checkpointAt.Store(cfg.Now().UnixNano())
	}
	return s, nil
}

// load reads the whole log into the digest index and audits it on the way: every stored
// Merkle hash must be the one its entries give, so that a changed digest, time or nonce
// anywhere is caught before the service signs anything about it. It returns the log size.
func (s *Service) load(ctx context.Context) (int64, error) {
	const chunk = 4096
	var (
		n        int64
		computed []merkle.Hash // hashes of the entries since the last comparison
		first    int64         // storage index of computed[0]
	)
	compare := func() error {
		if len(computed) == 0 {
			return nil
		}
		indexes := make([]int64, len(computed))
		for i := range indexes {
			indexes[i] = first + int64(i)
		}
		stored, err := s.store.ReadHashes(indexes)
		if err != nil {
			return fmt.Errorf("notary: reading stored hashes: %w", err)
		}
		for i, h := range stored {
			if h != computed[i] {
				return fmt.Errorf("notary: stored Merkle hash %d does not match the entries: the database was altered or damaged; refusing to start", indexes[i])
			}
		}
		first += int64(len(computed))
		computed = computed[:0]
		if len(s.hashCache) > 1<<16 {
			clear(s.hashCache)
		}
		return nil
	}
	err := s.store.ScanEntries(ctx, func(e notary.Entry) error {
		if e.Index != n {
			return fmt.Errorf("notary: stored log has entry %d where %d belongs", e.Index, n)
		}
		if _, dup := s.index[e.Digest]; !dup {
			s.index[e.Digest] = e.Index
		}
		hs, err := merkle.StoredHashes(n, e.LeafHash(), merkle.HashReaderFunc(s.readHashes))
		if err != nil {
			return err
		}
		at := merkle.StoredHashCount(n)
		for k, h := range hs {
			s.hashCache[at+int64(k)] = h
		}
		computed = append(computed, hs...)
		n++
		if n%chunk == 0 {
			return compare()
		}
		return nil
	})
	if err == nil {
		err = compare()
	}
	if err != nil {
		return 0, fmt.Errorf("notary: loading the log: %w", err)
	}
	return n, nil
}

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
	sequencerDone := make(chan struct{})
	go func() {
		defer close(sequencerDone)
		s.sequence()
	}()
	ticker := time.NewTicker(s.cfg.CheckpointInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			if err := s.publishCheckpoint(ctx, s.checkpoint.Load()); err != nil {
				s.cfg.Logger.Error("publishing checkpoint", "err", err)
			}
		case <-ctx.Done():
			close(s.closing)
			<-sequencerDone
			close(s.closed)
			// The context is done; the last checkpoint gets a short one of its own.
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return s.publishCheckpoint(cctx, s.checkpoint.Load())
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
	root, err := merkle.TreeHash(size, s.store)
	if err != nil {
		return fmt.Errorf("notary: computing root at size %d: %w", size, err)
	}
	if prev != nil && prev.Size > 0 {
		proof, err := merkle.ConsistencyProof(prev.Size, size, s.store)
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
	s.checkpoint.Store(&cp)
	s.checkpointAt.Store(s.cfg.Now().UnixNano())
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
	root, err := merkle.TreeHash(size, s.store)
	if err != nil {
		return nil, fmt.Errorf("notary: computing root at size %d: %w", size, err)
	}
	cp, err := notary.SignCheckpoint(size, root, s.cfg.Signer)
	if err != nil {
		return nil, err
	}
	path, err := merkle.InclusionProof(index, size, s.store)
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
	if entries, ok := s.known(digests); ok {
		return &request{digests: digests, entries: entries}, nil
	}
	req := &request{digests: digests, done: make(chan struct{})}
	select {
	case <-s.closing:
		return nil, ErrClosed
	default:
	}
	select {
	case s.queue <- req:
	case <-s.closing:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
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

// known returns the entries of digests if every one of them is logged already, durably.
func (s *Service) known(digests []notary.Digest) ([]notary.Entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	size := s.size.Load()
	entries := make([]notary.Entry, len(digests))
	for i, d := range digests {
		idx, ok := s.index[d]
		if !ok || idx >= size { // idx ≥ size: in a commit under way
			return nil, false
		}
		entries[i] = notary.Entry{Index: idx, Digest: d}
	}
	return entries, true
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
// least the log size, which known, IndexOf and Lookup treat as not logged yet.
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
			if idx, ok := s.index[d]; ok {
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
			s.index[d] = e.Index
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
			if p.signed != nil {
				<-p.signed
			}
			for _, r := range p.batch {
				if p.signErr != nil {
					r.err = fmt.Errorf("notary: the digests are logged but their checkpoint could not be signed (%w): submit them again for their receipts", p.signErr)
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
		delete(s.index, e.Digest)
	}
	s.mu.Unlock()
	s.edge, s.next = p.edge, p.base
	err = fmt.Errorf("notary: logging failed, nothing was logged: %w", err)
	for _, r := range p.batch {
		r.entries, r.leaves, r.commit, r.err = nil, nil, nil, err
		close(r.done)
	}
	s.cfg.Logger.Error("commit failed", "entries", len(p.entries), "err", err)
}

// readHashes reads stored hashes through the cache of the load.
func (s *Service) readHashes(indexes []int64) ([]merkle.Hash, error) {
	out := make([]merkle.Hash, len(indexes))
	var missing []int64
	for i, x := range indexes {
		h, ok := s.hashCache[x]
		if !ok {
			missing = append(missing, x)
			continue
		}
		out[i] = h
	}
	if len(missing) == 0 {
		return out, nil
	}
	read, err := s.store.ReadHashes(missing)
	if err != nil {
		return nil, err
	}
	for i, x := range missing {
		s.hashCache[x] = read[i]
	}
	for i, x := range indexes {
		out[i] = s.hashCache[x]
	}
	return out, nil
}
