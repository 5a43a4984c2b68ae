package notary

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/notary-dev/notary/merkle"
)

// ErrClosed is returned for submissions made while the service shuts down.
var ErrClosed = errors.New("notary: the service is shutting down")

// Config configures a Service.
type Config struct {
	// Signer signs receipts and checkpoints; its name is the log's origin.
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

// Service sequences submissions into the log, signs receipts and checkpoints, and assembles
// proofs. All methods are safe for concurrent use. Run must be running for submissions to
// complete.
type Service struct {
	cfg     Config
	store   Store
	anchors atomic.Value // AnchorSource

	queue   chan *request
	closing chan struct{} // closed when Run begins to shut down
	closed  chan struct{} // closed when Run has drained the queue

	mu    sync.RWMutex
	index map[Digest]int64 // every logged digest, to its entry's index

	size       atomic.Int64 // entries durably stored
	checkpoint atomic.Pointer[Checkpoint]

	// hashCache holds stored hashes the sequencer wrote or read; only the sequencer touches it.
	hashCache map[int64]merkle.Hash
}

// request is one call of SubmitBatch travelling through the sequencer.
type request struct {
	digests []Digest
	entries []Entry // set by the sequencer: the entry of each digest, new or old
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
		index:     make(map[Digest]int64),
		hashCache: make(map[int64]merkle.Hash),
	}
	n, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	s.size.Store(n)

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
	err := s.store.ScanEntries(ctx, func(e Entry) error {
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
func (s *Service) LatestCheckpoint() Checkpoint { return *s.checkpoint.Load() }

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
func (s *Service) publishCheckpoint(ctx context.Context, prev *Checkpoint) error {
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
	cp, err := SignCheckpoint(size, root, s.cfg.Signer)
	if err != nil {
		return err
	}
	if err := s.store.SaveCheckpoint(ctx, cp); err != nil {
		return fmt.Errorf("notary: saving checkpoint: %w", err)
	}
	s.checkpoint.Store(&cp)
	return nil
}

// Submit logs one digest and returns its signed receipt once the entry is durable.
// A digest logged before returns the receipt of its first entry.
func (s *Service) Submit(ctx context.Context, d Digest) (Receipt, error) {
	rs, err := s.SubmitBatch(ctx, []Digest{d})
	if err != nil {
		return Receipt{}, err
	}
	return rs[0], nil
}

// SubmitBatch logs digests and returns one receipt per digest, in order, once every new
// entry is durable. Digests logged before keep their first entry.
func (s *Service) SubmitBatch(ctx context.Context, digests []Digest) ([]Receipt, error) {
	entries, err := s.sequenced(ctx, digests)
	if err != nil {
		return nil, err
	}
	receipts := make([]Receipt, len(entries))
	for i, e := range entries {
		if e.Time.IsZero() { // logged before this call: read its first entry
			first, err := s.store.Entry(ctx, e.Index)
			if err != nil {
				return nil, fmt.Errorf("notary: reading entry %d: %w", e.Index, err)
			}
			e = first
		}
		if receipts[i], err = SignReceipt(s.Origin(), e, s.cfg.Signer); err != nil {
			return nil, err
		}
	}
	return receipts, nil
}

// sequenced returns the entry of each digest, logging those that are new. Entries of
// digests logged before have only Index and Digest set.
func (s *Service) sequenced(ctx context.Context, digests []Digest) ([]Entry, error) {
	if entries, ok := s.known(digests); ok {
		return entries, nil
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
	return req.entries, req.err
}

// known returns the entries of digests if every one of them is logged already.
func (s *Service) known(digests []Digest) ([]Entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	entries := make([]Entry, len(digests))
	for i, d := range digests {
		idx, ok := s.index[d]
		if !ok {
			return nil, false
		}
		entries[i] = Entry{Index: idx, Digest: d}
	}
	return entries, true
}

// sequence is the single writer: it takes every request queued, gives new digests the next
// indexes and commits them in one durable transaction (group commit), until closing.
func (s *Service) sequence() {
	for {
		var first *request
		select {
		case first = <-s.queue:
		case <-s.closing:
			// Drain what was queued before closing; SubmitBatch refuses new work now.
			for {
				select {
				case r := <-s.queue:
					s.commit([]*request{r})
				default:
					return
				}
			}
		}
		batch, n := []*request{first}, len(first.digests)
	collect:
		for n < s.cfg.MaxBatch {
			select {
			case r := <-s.queue:
				batch = append(batch, r)
				n += len(r.digests)
			default:
				break collect
			}
		}
		s.commit(batch)
	}
}

// commit logs the new digests of batch in one transaction and answers every request.
func (s *Service) commit(batch []*request) {
	ctx := context.Background()
	base := s.size.Load()
	now := time.UnixMilli(s.cfg.Now().UnixMilli()).UTC()
	var (
		entries []Entry
		hashes  []merkle.Hash
		fresh   = make(map[Digest]int) // new digest → position in entries
		added   []int64                // hash cache keys added for this batch
		err     error
	)
	s.mu.RLock()
assign:
	for _, r := range batch {
		r.entries = make([]Entry, len(r.digests))
		for i, d := range r.digests {
			if k, ok := fresh[d]; ok {
				r.entries[i] = entries[k]
				continue
			}
			if idx, ok := s.index[d]; ok {
				r.entries[i] = Entry{Index: idx, Digest: d} // the submitter reads the rest
				continue
			}
			e := Entry{Index: base + int64(len(entries)), Digest: d, Time: now}
			if _, err = io.ReadFull(s.cfg.Rand, e.Nonce[:]); err != nil {
				break assign
			}
			var hs []merkle.Hash
			hs, err = merkle.StoredHashes(e.Index, e.LeafHash(), merkle.HashReaderFunc(s.readHashes))
			if err != nil {
				break assign
			}
			at := merkle.StoredHashCount(e.Index)
			for k, h := range hs {
				s.hashCache[at+int64(k)] = h
				added = append(added, at+int64(k))
			}
			hashes = append(hashes, hs...)
			fresh[d] = len(entries)
			entries = append(entries, e)
			r.entries[i] = e
		}
	}
	s.mu.RUnlock()

	if err == nil && len(entries) > 0 {
		err = s.store.AppendEntries(ctx, entries, hashes)
	}
	if err != nil {
		for _, k := range added {
			delete(s.hashCache, k)
		}
		err = fmt.Errorf("notary: logging failed, nothing was logged: %w", err)
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
		s.cfg.Logger.Error("commit failed", "entries", len(entries), "err", err)
		return
	}
	if len(entries) > 0 {
		s.mu.Lock()
		for _, e := range entries {
			s.index[e.Digest] = e.Index
		}
		s.mu.Unlock()
		s.size.Add(int64(len(entries)))
		if len(s.hashCache) > 1<<16 {
			clear(s.hashCache)
		}
	}
	for _, r := range batch {
		close(r.done)
	}
}

// readHashes reads stored hashes through the sequencer's cache.
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
