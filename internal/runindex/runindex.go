// Package runindex is a persistent multimap from uniformly random 64-bit keys to 64-bit
// values, written in batches and never updated: the shape of an index of SHA-256 digests.
//
// Each batch becomes a run, a file of records sorted by key. Runs are merged in the
// background so that there are few of them: a run is merged into the one before it while
// that one holds fewer than mergeRatio times its records, which keeps about log₄ of the
// index's size in batches of runs, each record rewritten a few times over its life. Two
// merges may run at once, so that the small runs of new batches are merged while a merge of
// large ones takes its time; past maxRuns runs, Add waits for merges.
//
// Since keys are uniformly random, a key's place in a run is estimated from its value and
// found in a few probes (interpolation search), with no index or filter held in memory:
// memory does not grow with the index. Runs are mapped into memory read-only, so the
// operating system caches the pages that lookups touch and drops them when it needs the
// memory.
//
// A write is durable before it returns: its run is synced before the manifest, the file that
// names the index's runs, is replaced. Files a crash left behind are removed at the next Open.
// One process at a time may open an index.
//
// Keys must be random for lookups to be fast and for records not to pile up under one key.
// When they derive from input that others choose, derive them with a keyed hash: each index
// has a secret of its own for that (Secret).
package runindex

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Record is one key and its value.
type Record struct {
	Key, Value uint64
}

const (
	recordSize   = 16
	headerSize   = 16
	runMagic     = "NTRYRUN1"
	manifestName = "MANIFEST"
	manifestHead = "notary run index 1"
	lockName     = "LOCK"
	// mergeRatio: a run is merged into the run before it while that one holds fewer than
	// mergeRatio times its records.
	mergeRatio = 4
)

// Index is an open run index. Its methods are safe for concurrent use, except that Add
// must not be called concurrently with itself.
type Index struct {
	dir    string
	lock   *os.File
	secret [SecretSize]byte

	mu   sync.RWMutex // guards runs and meta; changed under change too
	runs []*run       // oldest (largest) first
	meta uint64

	change   sync.Mutex // serializes changes of runs and meta, and guards what follows
	changed  *sync.Cond // on change: broadcast when runs change or a merge ends
	merging  int        // merges under way
	mergeErr error      // the last merge's failure, until Add reports it
	closing  bool

	next    atomic.Int64  // sequence number of the next run file
	wake    chan struct{} // wakes a merger: runs were added or a merge ended
	stop    chan struct{} // closed by Close
	mergers sync.WaitGroup
}

const (
	// mergers is how many merges may run at once.
	mergers = 2
	// maxRuns is how many runs Add lets there be before it waits for merges.
	maxRuns = 64
)

// SecretSize is the size of an index's secret.
const SecretSize = 16

// Secret returns the index's secret: random bytes made with the index, kept in its
// manifest, and the same for as long as the index exists.
func (x *Index) Secret() [SecretSize]byte { return x.secret }

// run is one sorted run, mapped read-only.
type run struct {
	name    string
	data    []byte // the whole file: header, then n records
	n       int
	merging bool // a merge is reading it; guarded by Index.change
}

// Open opens the index in dir, creating it if needed. It fails while another process has it
// open.
func Open(dir string) (*Index, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("runindex: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("runindex: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("runindex: %s is in use by another process: %w", dir, err)
	}
	x := &Index{dir: dir, lock: lock, wake: make(chan struct{}, mergers), stop: make(chan struct{})}
	x.changed = sync.NewCond(&x.change)
	if err := x.load(); err != nil {
		x.Close()
		return nil, err
	}
	for range mergers {
		x.mergers.Go(x.merger)
	}
	x.poke()
	return x, nil
}

// load reads the manifest, maps its runs and removes every other run file.
func (x *Index) load() error {
	m, err := readManifest(filepath.Join(x.dir, manifestName))
	if err != nil {
		return err
	}
	if m == nil {
		// A new index: give it its secret.
		m = new(manifest)
		rand.Read(m.secret[:])
		if err := writeManifest(x.dir, m); err != nil {
			return err
		}
	}
	x.meta, x.secret = m.meta, m.secret
	names := m.runs
	live := make(map[string]bool)
	for _, name := range names {
		r, err := mapRun(filepath.Join(x.dir, name))
		if err != nil {
			return err
		}
		r.name = name
		x.runs = append(x.runs, r)
		live[name] = true
	}
	entries, err := os.ReadDir(x.dir)
	if err != nil {
		return fmt.Errorf("runindex: %w", err)
	}
	for _, e := range entries {
		seq, ok := runSeq(e.Name())
		if !ok {
			continue
		}
		x.next.Store(max(x.next.Load(), int64(seq)+1))
		if !live[e.Name()] {
			// Written by a write or merge that a crash cut short.
			if err := os.Remove(filepath.Join(x.dir, e.Name())); err != nil {
				return fmt.Errorf("runindex: removing a leftover run: %w", err)
			}
		}
	}
	return nil
}

// Close stops merges, unmaps the runs and releases the index to other processes. A merge
// under way is abandoned; the next Open removes what it wrote.
func (x *Index) Close() error {
	x.change.Lock()
	if x.closing {
		x.change.Unlock()
		return nil
	}
	x.closing = true
	x.changed.Broadcast()
	x.change.Unlock()
	close(x.stop)
	x.mergers.Wait()
	x.mu.Lock()
	defer x.mu.Unlock()
	var errs []error
	for _, r := range x.runs {
		errs = append(errs, r.unmap())
	}
	x.runs = nil
	if x.lock != nil {
		errs = append(errs, x.lock.Close())
		x.lock = nil
	}
	return errors.Join(errs...)
}

// Meta returns the number stored with the last Add, or 0 for a new index.
func (x *Index) Meta() uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.meta
}

// recordCount returns the number of records in the index.
func (x *Index) recordCount() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := 0
	for _, r := range x.runs {
		n += r.n
	}
	return n
}

// runCount returns the number of runs.
func (x *Index) runCount() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.runs)
}

// Add adds recs to the index and sets its Meta to meta, durably and at once: after a crash
// the index holds either all of recs and meta or neither. It sorts recs in place. If a merge
// failed since the last Add, Add reports that too, after adding recs.
func (x *Index) Add(recs []Record, meta uint64) error {
	slices.SortFunc(recs, func(a, b Record) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	var added *run
	if len(recs) > 0 {
		var err error
		if added, err = x.writeRun(len(recs), func(w *bufio.Writer) error {
			var b [recordSize]byte
			for _, rec := range recs {
				putRecord(b[:], rec)
				if _, err := w.Write(b[:]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	x.change.Lock()
	defer x.change.Unlock()
	for len(x.runs) >= maxRuns && x.mergeErr == nil && !x.closing {
		x.poke()
		x.changed.Wait() // the mergers are behind: wait for them
	}
	runs := slices.Clone(x.runs)
	if added != nil {
		runs = append(runs, added)
	}
	if err := x.commit(runs, meta); err != nil {
		if added != nil {
			added.unmap()
			os.Remove(filepath.Join(x.dir, added.name))
		}
		return err
	}
	x.poke()
	if err := x.mergeErr; err != nil {
		x.mergeErr = nil
		return err
	}
	return nil
}

// poke wakes the mergers.
func (x *Index) poke() {
	for range mergers {
		select {
		case x.wake <- struct{}{}:
		default:
		}
	}
}

// merger merges runs as long as some are due to be merged, until Close.
func (x *Index) merger() {
	for {
		select {
		case <-x.stop:
			return
		case <-x.wake:
		}
		for {
			merged, err := x.mergeNext()
			if err != nil {
				x.change.Lock()
				if !x.closing {
					x.mergeErr = err
				}
				x.changed.Broadcast()
				x.change.Unlock()
				break
			}
			if !merged {
				break
			}
		}
	}
}

// duePair returns the position of the newest run that is due to be merged into the run
// before it, neither of them being merged already, or -1.
func (x *Index) duePair() int {
	for j := len(x.runs) - 1; j > 0; j-- {
		older, newer := x.runs[j-1], x.runs[j]
		if !older.merging && !newer.merging && older.n < mergeRatio*newer.n {
			return j
		}
	}
	return -1
}

// mergeNext merges the newest pair of runs due to be merged, if any, and says whether it
// did.
func (x *Index) mergeNext() (bool, error) {
	x.change.Lock()
	j := x.duePair()
	if j < 0 || x.closing {
		x.change.Unlock()
		return false, nil
	}
	older, newer := x.runs[j-1], x.runs[j]
	older.merging, newer.merging = true, true
	x.merging++
	x.change.Unlock()

	var merged *run
	err := beforeMerge(x.stop)
	if err == nil {
		merged, err = x.writeRun(older.n+newer.n, func(w *bufio.Writer) error {
			return mergeRecords(w, older.records(), newer.records(), x.stop)
		})
	}

	x.change.Lock()
	defer x.change.Unlock()
	defer x.changed.Broadcast()
	x.merging--
	older.merging, newer.merging = false, false
	if err != nil {
		return false, err
	}
	// Other merges and Adds changed the list since, but not these two, nor their order.
	i := slices.Index(x.runs, older)
	runs := slices.Concat(x.runs[:i], []*run{merged}, x.runs[i+2:])
	if err := x.commit(runs, x.meta); err != nil {
		merged.unmap()
		os.Remove(filepath.Join(x.dir, merged.name))
		return false, err
	}
	x.poke() // the merged run may now be due, and another merger may be idle
	return true, nil
}

// commit makes runs and meta the index's, durably, then unmaps and removes the runs that
// are no longer in it. The caller holds x.change.
func (x *Index) commit(runs []*run, meta uint64) error {
	m := &manifest{secret: x.secret, meta: meta}
	for _, r := range runs {
		m.runs = append(m.runs, r.name)
	}
	if err := writeManifest(x.dir, m); err != nil {
		return err
	}
	x.mu.Lock()
	old := x.runs
	x.runs, x.meta = runs, meta
	x.mu.Unlock()
	x.changed.Broadcast()
	var errs []error
	for _, r := range old {
		if !slices.Contains(runs, r) {
			errs = append(errs, r.unmap(), os.Remove(filepath.Join(x.dir, r.name)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("runindex: removing a merged run: %w", err)
	}
	return nil
}

// settle waits until no merge is under way or due.
func (x *Index) settle() error {
	x.change.Lock()
	defer x.change.Unlock()
	for (x.merging > 0 || x.duePair() >= 0) && x.mergeErr == nil && !x.closing {
		x.poke()
		x.changed.Wait()
	}
	return x.mergeErr
}

// Lookup calls found for each record whose key is keys[i], for every i, newest run first.
// It holds the index's runs for its whole length: found must not call Add.
func (x *Index) Lookup(keys []uint64, found func(i int, value uint64)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for i, k := range keys {
		for j := len(x.runs) - 1; j >= 0; j-- {
			r := x.runs[j]
			for p := r.search(k); p < r.n && r.key(p) == k; p++ {
				found(i, r.value(p))
			}
		}
	}
}

// writeRun writes a run of n records, given by write, to a new file, syncs it and maps it.
func (x *Index) writeRun(n int, write func(*bufio.Writer) error) (*run, error) {
	name := fmt.Sprintf("%08d.run", x.next.Add(1)-1)
	path := filepath.Join(x.dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("runindex: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var head [headerSize]byte
	copy(head[:8], runMagic)
	binary.BigEndian.PutUint64(head[8:], uint64(n))
	w.Write(head[:])
	err = write(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("runindex: writing run %s: %w", name, err)
	}
	r, err := mapRun(path)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	r.name = name
	return r, nil
}

// mergeRecords writes the records of two sorted runs in key order, those of a first among
// equal keys. It gives up with errStopped once stop is closed.
func mergeRecords(w *bufio.Writer, a, b []byte, stop <-chan struct{}) error {
	for n := 0; len(a) > 0 && len(b) > 0; n++ {
		if n%(1<<16) == 0 {
			select {
			case <-stop:
				return errStopped
			default:
			}
		}
		if binary.BigEndian.Uint64(b) < binary.BigEndian.Uint64(a) {
			w.Write(b[:recordSize])
			b = b[recordSize:]
		} else {
			w.Write(a[:recordSize])
			a = a[recordSize:]
		}
	}
	w.Write(a)
	_, err := w.Write(b)
	return err
}

var errStopped = errors.New("runindex: closed")

// beforeMerge is called as each merge begins; a test may make merges wait or fail.
var beforeMerge = func(stop <-chan struct{}) error { return nil }

// mapRun maps the run file at path, checking its header against its length.
func mapRun(path string) (*run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("runindex: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("runindex: %w", err)
	}
	size := st.Size()
	if size < headerSize {
		return nil, fmt.Errorf("runindex: run %s is damaged: %d bytes, shorter than its header (remove the index's directory to rebuild it)", path, size)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("runindex: mapping %s: %w", path, err)
	}
	n := binary.BigEndian.Uint64(data[8:headerSize])
	if string(data[:8]) != runMagic || uint64(size-headerSize) != n*recordSize {
		unix.Munmap(data)
		return nil, fmt.Errorf("runindex: run %s is damaged: its header does not match its %d bytes (remove the index's directory to rebuild it)", path, size)
	}
	// Lookups touch a few records of each run, anywhere: read ahead nothing.
	if err := unix.Madvise(data, unix.MADV_RANDOM); err != nil {
		unix.Munmap(data)
		return nil, fmt.Errorf("runindex: %w", err)
	}
	return &run{data: data, n: int(n)}, nil
}

func (r *run) unmap() error {
	if r.data == nil {
		return nil
	}
	err := unix.Munmap(r.data)
	r.data = nil
	return err
}

// putRecord encodes rec in b: the key, then the value, big-endian.
func putRecord(b []byte, rec Record) {
	binary.BigEndian.PutUint64(b[:8], rec.Key)
	binary.BigEndian.PutUint64(b[8:recordSize], rec.Value)
}

func (r *run) records() []byte { return r.data[headerSize:] }

func (r *run) key(i int) uint64 {
	return binary.BigEndian.Uint64(r.data[headerSize+recordSize*i:])
}

func (r *run) value(i int) uint64 {
	return binary.BigEndian.Uint64(r.data[headerSize+recordSize*i+8:])
}

// search returns the position of the first record whose key is at least k, or r.n.
//
// Keys are uniformly random, so the position is estimated from k's place between the keys
// at the ends of the range still open, and the range closed from the side the estimate
// falls short of: about log₂ log₂ n probes, against log₂ n for binary search. Keys that are
// not random (which Index cannot rule out) make estimates poor, so after interpolateProbes
// estimates the search halves the range instead: never more than interpolateProbes + log₂ n
// probes. The last few records are scanned.
func (r *run) search(k uint64) int {
	lo, hi := 0, r.n                        // the answer is in [lo, hi]
	klo, khi := 0.0, 18446744073709551616.0 // bounds of the keys in [lo, hi), as floats
	for probes := 0; hi-lo > 8; probes++ {
		g := lo + (hi-lo)/2
		if probes < interpolateProbes {
			g = lo + int((float64(k)-klo)/(khi-klo)*float64(hi-lo))
			g = min(max(g, lo), hi-1)
		}
		if kg := r.key(g); kg < k {
			lo, klo = g+1, float64(kg)
		} else {
			hi, khi = g, float64(kg)
		}
	}
	for lo < hi && r.key(lo) < k {
		lo++
	}
	return lo
}

// interpolateProbes is how many probes of a search estimate the key's place before the
// search falls back to halving. Random keys need about log₂ log₂ n: 5 for 10^9 records.
const interpolateProbes = 6

// manifest is what the manifest file holds: the index's secret, the number stored with the
// last Add, and the names of the runs, oldest first.
type manifest struct {
	secret [SecretSize]byte
	meta   uint64
	runs   []string
}

// readManifest returns the manifest at path, or nil if there is none.
//
// Its format is text, one item a line: a header, "secret HEX", "meta N", then "run NAME"
// for each run.
func readManifest(path string) (*manifest, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("runindex: %w", err)
	}
	damaged := func(what string) error {
		return fmt.Errorf("runindex: manifest %s is damaged: %s (remove the index's directory to rebuild it)", path, what)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) < 3 || lines[0] != manifestHead {
		return nil, damaged("no header")
	}
	var m manifest
	secretHex, ok := strings.CutPrefix(lines[1], "secret ")
	if !ok || len(secretHex) != 2*SecretSize {
		return nil, damaged("no secret")
	}
	if _, err := hex.Decode(m.secret[:], []byte(secretHex)); err != nil {
		return nil, damaged("no secret")
	}
	metaText, ok := strings.CutPrefix(lines[2], "meta ")
	if !ok {
		return nil, damaged("no meta line")
	}
	if m.meta, err = strconv.ParseUint(metaText, 10, 64); err != nil {
		return nil, damaged(err.Error())
	}
	for _, line := range lines[3:] {
		name, ok := strings.CutPrefix(line, "run ")
		if _, isRun := runSeq(name); !ok || !isRun {
			return nil, damaged(fmt.Sprintf("line %q", line))
		}
		m.runs = append(m.runs, name)
	}
	return &m, nil
}

// writeManifest replaces the manifest of the index in dir with m, durably.
func writeManifest(dir string, m *manifest) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nsecret %x\nmeta %d\n", manifestHead, m.secret, m.meta)
	for _, name := range m.runs {
		fmt.Fprintf(&b, "run %s\n", name)
	}
	tmp := filepath.Join(dir, manifestName+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("runindex: %w", err)
	}
	_, err = f.WriteString(b.String())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, manifestName))
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("runindex: writing the manifest: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// runSeq returns the sequence number in a run file's name.
func runSeq(name string) (int, bool) {
	s, ok := strings.CutSuffix(name, ".run")
	if !ok || len(s) != 8 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}
