package runindex

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// model is what an index should hold: every value of each key, in any order.
type model map[uint64][]uint64

func lookupAll(t *testing.T, x *Index, keys []uint64) [][]uint64 {
	t.Helper()
	got := make([][]uint64, len(keys))
	x.Lookup(keys, func(i int, v uint64) { got[i] = append(got[i], v) })
	for i := range got {
		slices.Sort(got[i])
	}
	return got
}

func check(t *testing.T, x *Index, m model, absent []uint64) {
	t.Helper()
	keys := slices.Collect(func(yield func(uint64) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	got := lookupAll(t, x, keys)
	n := 0
	for i, k := range keys {
		want := slices.Sorted(slices.Values(m[k]))
		n += len(want)
		if !slices.Equal(got[i], want) {
			t.Fatalf("Lookup(%#x) = %v, want %v", k, got[i], want)
		}
	}
	if x.recordCount() != n {
		t.Errorf("recordCount = %d, want %d", x.recordCount(), n)
	}
	for i, vs := range lookupAll(t, x, absent) {
		if len(vs) != 0 {
			t.Fatalf("Lookup of absent key %#x = %v", absent[i], vs)
		}
	}
}

// keyGens make keys of different shapes: random ones, and the shapes that make estimates
// poor (clustered, sequential, repeated), which must still be found.
var keyGens = []struct {
	name string
	key  func(r *rand.Rand, i int) uint64
}{
	{"random", func(r *rand.Rand, i int) uint64 { return r.Uint64() }},
	{"clustered", func(r *rand.Rand, i int) uint64 { return 1<<63 + r.Uint64N(1<<20) }},
	{"sequential", func(r *rand.Rand, i int) uint64 { return uint64(i) * 3 }},
	{"repeated", func(r *rand.Rand, i int) uint64 { return r.Uint64N(50) }},
	{"extremes", func(r *rand.Rand, i int) uint64 {
		return []uint64{0, 1, ^uint64(0), ^uint64(0) - 1, 1 << 63}[r.IntN(5)] ^ uint64(i%2)
	}},
}

func TestAddLookupReopen(t *testing.T) {
	for _, gen := range keyGens {
		t.Run(gen.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			dir := t.TempDir()
			x, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			m := make(model)
			next := 0
			for batch := range 40 {
				recs := make([]Record, 1+r.IntN(3000))
				for i := range recs {
					k := gen.key(r, next)
					recs[i] = Record{Key: k, Value: uint64(next)}
					m[k] = append(m[k], uint64(next))
					next++
				}
				if err := x.Add(recs, uint64(next)); err != nil {
					t.Fatal(err)
				}
				if batch%7 == 6 { // now and then, from a reopened index
					if err := x.Close(); err != nil {
						t.Fatal(err)
					}
					if x, err = Open(dir); err != nil {
						t.Fatal(err)
					}
				}
				if x.Meta() != uint64(next) {
					t.Fatalf("Meta = %d, want %d", x.Meta(), next)
				}
			}
			var absent []uint64
			for range 2000 {
				if k := r.Uint64(); m[k] == nil {
					absent = append(absent, k)
				}
			}
			check(t, x, m, absent)
			x.Close()
		})
	}
}

// TestRunsStayFew checks the merge policy: runs stay about log₄ of the records in batches.
func TestRunsStayFew(t *testing.T) {
	x, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	r := rand.New(rand.NewPCG(3, 4))
	const batch = 100
	for b := range 2000 {
		recs := make([]Record, batch)
		for i := range recs {
			recs[i] = Record{Key: r.Uint64(), Value: uint64(b*batch + i)}
		}
		if err := x.Add(recs, uint64((b+1)*batch)); err != nil {
			t.Fatal(err)
		}
		if x.runCount() > maxRuns {
			t.Fatalf("after %d batches: %d runs, more than %d", b+1, x.runCount(), maxRuns)
		}
		if b%100 == 99 {
			// Once merges are done: about log₄ of the batches, below 6 for 2000.
			if err := x.settle(); err != nil {
				t.Fatal(err)
			}
			if x.runCount() > 6 {
				t.Fatalf("after %d batches and their merges: %d runs", b+1, x.runCount())
			}
		}
	}
	if x.recordCount() != 2000*batch {
		t.Fatalf("recordCount = %d", x.recordCount())
	}
}

func TestEmptyAddSetsMeta(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if x.Meta() != 0 || x.recordCount() != 0 {
		t.Fatalf("new index: Meta %d, %d records", x.Meta(), x.recordCount())
	}
	if err := x.Add(nil, 42); err != nil {
		t.Fatal(err)
	}
	x.Close()
	if x, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if x.Meta() != 42 || x.runCount() != 0 {
		t.Fatalf("Meta %d, %d runs; want 42, 0", x.Meta(), x.runCount())
	}
}

func TestSecret(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := x.Secret()
	if s == ([SecretSize]byte{}) {
		t.Fatal("a new index's secret is zero")
	}
	x.Close()
	if x, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	if x.Secret() != s {
		t.Fatal("the secret changed when the index was reopened")
	}
	x.Close()
	y, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if y.Secret() == s {
		t.Fatal("two indexes have one secret")
	}
}

func TestOneProcessAtATime(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if y, err := Open(dir); err == nil {
		y.Close()
		t.Fatal("a second Open of an open index succeeded")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open: %v, want it to say the index is in use", err)
	}
	x.Close()
	y, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	y.Close()
}

// TestLeftoversRemoved: a run file the manifest does not name (a write or merge a crash cut
// short) is removed at Open and not read.
func TestLeftoversRemoved(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Add([]Record{{Key: 7, Value: 1}}, 1); err != nil {
		t.Fatal(err)
	}
	x.Close()
	stray := filepath.Join(dir, "00000099.run")
	if err := os.WriteFile(stray, []byte("half a run"), 0o600); err != nil {
		t.Fatal(err)
	}
	if x, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Fatalf("the leftover run is still there: %v", err)
	}
	check(t, x, model{7: {1}}, []uint64{8})
	// New runs are numbered past the leftover's, whose name a crash may reuse otherwise.
	if err := x.Add([]Record{{Key: 8, Value: 2}}, 2); err != nil {
		t.Fatal(err)
	}
	check(t, x, model{7: {1}, 8: {2}}, nil)
}

func TestDamageIsReported(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string)
		want   string
	}{
		{"manifest garbled", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, manifestName), []byte("not a manifest\n"), 0o600)
		}, "manifest"},
		{"run truncated", func(t *testing.T, dir string) {
			runs, _ := filepath.Glob(filepath.Join(dir, "*.run"))
			if len(runs) == 0 {
				t.Fatal("no run")
			}
			st, _ := os.Stat(runs[0])
			os.Truncate(runs[0], st.Size()-5)
		}, "damaged"},
		{"run missing", func(t *testing.T, dir string) {
			runs, _ := filepath.Glob(filepath.Join(dir, "*.run"))
			os.Remove(runs[0])
		}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			x, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := x.Add([]Record{{1, 1}, {2, 2}}, 2); err != nil {
				t.Fatal(err)
			}
			x.Close()
			tt.damage(t, dir)
			if y, err := Open(dir); err == nil {
				y.Close()
				t.Fatal("Open of a damaged index succeeded")
			} else if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open: %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestLookupDuringMerges runs lookups while Adds merge runs: every key added before a
// lookup began is found by it.
func TestLookupDuringMerges(t *testing.T) {
	x, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	r := rand.New(rand.NewPCG(5, 6))
	keys := make([]uint64, 40*500)
	for i := range keys {
		keys[i] = r.Uint64()
	}
	var added atomic.Int64
	done := make(chan error)
	go func() {
		defer close(done)
		for b := range 40 {
			recs := make([]Record, 500)
			for i := range recs {
				recs[i] = Record{Key: keys[b*500+i], Value: uint64(b*500 + i)}
			}
			if err := x.Add(recs, 0); err != nil {
				done <- err
				return
			}
			added.Store(int64((b + 1) * 500))
		}
	}()
	for {
		n := added.Load()
		missing := 0
		x.Lookup(keys[:n], func(i int, v uint64) {
			if v != uint64(i) {
				t.Errorf("key %d: value %d", i, v)
			}
			missing--
		})
		if missing += int(n); missing != 0 {
			t.Fatalf("%d of the %d keys added before the lookup were not found", missing, n)
		}
		if n == int64(len(keys)) {
			break
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func FuzzReadManifest(f *testing.F) {
	f.Add([]byte(manifestHead + "\nsecret 000102030405060708090a0b0c0d0e0f\nmeta 12\nrun 00000001.run\n"))
	f.Add([]byte(manifestHead + "\nsecret 00\nmeta 12\n"))
	f.Add([]byte(manifestHead + "\nsecret 000102030405060708090a0b0c0d0e0f\nmeta -1\n"))
	f.Add([]byte("run 1.run\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), manifestName)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := readManifest(path)
		if err != nil {
			return
		}
		// What parses writes back to a manifest that parses to the same.
		dir := t.TempDir()
		if err := writeManifest(dir, m); err != nil {
			t.Fatal(err)
		}
		m2, err := readManifest(filepath.Join(dir, manifestName))
		if err != nil {
			t.Fatalf("a written manifest does not parse: %v", err)
		}
		if m2.secret != m.secret || m2.meta != m.meta || !slices.Equal(m2.runs, m.runs) {
			t.Fatalf("round trip: %+v, then %+v", m, m2)
		}
	})
}

// FuzzSearch checks search against a linear scan on runs of any keys.
func FuzzSearch(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, uint64(5))
	f.Add(make([]byte, 200), uint64(0))
	f.Fuzz(func(t *testing.T, seed []byte, k uint64) {
		keys := make([]uint64, len(seed))
		for i, b := range seed {
			// Bytes spread over the key space, clustered and extreme.
			keys[i] = uint64(b)<<56 | uint64(b%3)*uint64(i)
			if b%5 == 0 {
				keys[i] = ^uint64(0) - uint64(b)
			}
		}
		slices.Sort(keys)
		r := &run{data: make([]byte, headerSize+recordSize*len(keys)), n: len(keys)}
		for i, key := range keys {
			putRecord(r.data[headerSize+recordSize*i:], Record{Key: key})
		}
		for _, probe := range append([]uint64{k}, keys...) {
			want, _ := slices.BinarySearch(keys, probe)
			if got := r.search(probe); got != want {
				t.Fatalf("search(%#x) = %d, want %d, in %x", probe, got, want, keys)
			}
		}
	})
}

// BenchmarkAdd adds records in batches of 65,536, as the digest index is fed, with the
// merges that follow; reported per record.
func BenchmarkAdd(b *testing.B) {
	x, r := openBench(b)
	n := 0
	for b.Loop() {
		n = addRandom(b, x, r, n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/record")
	b.ReportMetric(float64(x.runCount()), "runs")
}

// BenchmarkLookupAbsent looks up keys that are not in an index of 2^22 records: the check
// of each new digest.
func BenchmarkLookupAbsent(b *testing.B) {
	x, r := openBench(b)
	for n := 0; n < 1<<22; {
		n = addRandom(b, x, r, n)
	}
	if err := x.settle(); err != nil {
		b.Fatal(err)
	}
	keys := make([]uint64, 1000)
	found := 0
	for b.Loop() {
		for i := range keys {
			keys[i] = r.Uint64()
		}
		x.Lookup(keys, func(int, uint64) { found++ })
	}
	if found > 0 {
		b.Fatalf("%d random keys found", found)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(keys)), "ns/key")
	b.ReportMetric(float64(x.runCount()), "runs")
}

// TestAddWaitsForMerges: with merges held, the runs stop at maxRuns, the Adds past it wait,
// and everything is there once merges go on.
func TestAddWaitsForMerges(t *testing.T) {
	release := make(chan struct{})
	x := openWithMergeHook(t, func(stop <-chan struct{}) error {
		select {
		case <-release:
		case <-stop:
		}
		return nil
	})
	m := make(model)
	const batches = maxRuns + 10
	done := make(chan error, 1)
	var added atomic.Int64
	go func() {
		for b := range batches {
			// Equal batches: every pair is due, so that only held merges keep runs apart.
			recs := make([]Record, 10)
			for i := range recs {
				recs[i] = Record{Key: uint64(b*10+i) * 0x9e3779b97f4a7c15, Value: uint64(b*10 + i)}
			}
			if err := x.Add(recs, uint64(b+1)); err != nil {
				done <- err
				return
			}
			added.Add(1)
		}
		done <- nil
	}()
	for b := range batches {
		for i := range 10 {
			k := uint64(b*10+i) * 0x9e3779b97f4a7c15
			m[k] = append(m[k], uint64(b*10+i))
		}
	}
	// Two merges hold four runs; the Adds go on until there are maxRuns.
	for x.runCount() < maxRuns {
		select {
		case err := <-done:
			t.Fatalf("all Adds returned (%v) with merges held and %d runs", err, x.runCount())
		default:
		}
		runtime.Gosched()
	}
	if n := added.Load(); n != maxRuns-1 && n != maxRuns {
		t.Fatalf("%d Adds returned with merges held; want %d", n, maxRuns)
	}
	if x.runCount() != maxRuns {
		t.Fatalf("%d runs with merges held; want at most %d", x.runCount(), maxRuns)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := x.settle(); err != nil {
		t.Fatal(err)
	}
	if x.Meta() != batches {
		t.Fatalf("Meta = %d, want %d", x.Meta(), batches)
	}
	check(t, x, m, []uint64{1, 2, 3})
}

// TestMergeFailureReported: a failed merge is reported by the next Add, which still adds its
// records, and merges go on after it.
func TestMergeFailureReported(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	x := openWithMergeHook(t, func(<-chan struct{}) error {
		if fail.Swap(false) {
			return errors.New("disk full")
		}
		return nil
	})
	if err := x.Add([]Record{{1, 1}}, 1); err != nil {
		t.Fatal(err)
	}
	if err := x.Add([]Record{{2, 2}}, 2); err != nil { // two equal runs: a merge is due
		t.Fatal(err)
	}
	if err := x.settle(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("settle after a failed merge: %v", err)
	}
	err := x.Add([]Record{{3, 3}}, 3)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Add after a failed merge: %v, want the merge's error", err)
	}
	if err := x.settle(); err != nil {
		t.Fatalf("merges after the failure: %v", err)
	}
	check(t, x, model{1: {1}, 2: {2}, 3: {3}}, []uint64{4})
	if x.runCount() > 2 {
		t.Fatalf("%d runs of 3 records after merges", x.runCount())
	}
}

func openBench(b *testing.B) (*Index, *rand.Rand) {
	x, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { x.Close() })
	return x, rand.New(rand.NewPCG(7, 8))
}

// addRandom adds a batch of 65,536 random keys to x, valued n onwards, and returns the
// value after the last.
func addRandom(b *testing.B, x *Index, r *rand.Rand, n int) int {
	recs := make([]Record, 1<<16)
	for i := range recs {
		recs[i] = Record{Key: r.Uint64(), Value: uint64(n + i)}
	}
	n += len(recs)
	if err := x.Add(recs, uint64(n)); err != nil {
		b.Fatal(err)
	}
	return n
}

// openWithMergeHook opens a new index whose merges call hook as they begin, until the test
// ends (tests that set it do not run in parallel).
func openWithMergeHook(t *testing.T, hook func(stop <-chan struct{}) error) *Index {
	t.Helper()
	orig := beforeMerge
	beforeMerge = hook
	t.Cleanup(func() { beforeMerge = orig })
	x, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}
