package merkle

import (
	"errors"
	"fmt"
	"testing"
)

func TestStoredHashIndex(t *testing.T) {
	tests := []struct {
		level int
		n     int64
		want  int64
	}{
		{level: 0, n: 0, want: 0},
		{level: 0, n: 1, want: 1},
		{level: 1, n: 0, want: 2},
		{level: 0, n: 2, want: 3},
		{level: 0, n: 3, want: 4},
		{level: 1, n: 1, want: 5},
		{level: 2, n: 0, want: 6},
		{level: 0, n: 4, want: 7},
		{level: 3, n: 0, want: 14},
		{level: 0, n: 1000, want: 1994},
		{level: 61, n: 0, want: 1<<62 - 2 - 61 + 61},
		{level: 0, n: maxSize - 1, want: StoredHashCount(maxSize - 1)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("level=%d,n=%d", tt.level, tt.n), func(t *testing.T) {
			if got := StoredHashIndex(tt.level, tt.n); got != tt.want {
				t.Errorf("StoredHashIndex(%d, %d) = %d, want %d", tt.level, tt.n, got, tt.want)
			}
		})
	}
}

func TestStoredHashCount(t *testing.T) {
	tests := []struct{ n, want int64 }{
		{0, 0}, {1, 1}, {2, 3}, {3, 4}, {4, 7}, {5, 8}, {7, 11}, {8, 15},
		{1 << 20, 1<<21 - 1},
		{maxSize, 2*maxSize - 62},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			if got := StoredHashCount(tt.n); got != tt.want {
				t.Errorf("StoredHashCount(%d) = %d, want %d", tt.n, got, tt.want)
			}
		})
	}
}

func TestStoredHashIndexPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"negative level", func() { StoredHashIndex(-1, 0) }},
		{"negative n", func() { StoredHashIndex(0, -1) }},
		{"beyond maximum size", func() { StoredHashIndex(0, maxSize) }},
		{"level too high", func() { StoredHashIndex(62, 0) }},
		{"subtree beyond maximum size", func() { StoredHashIndex(1, maxSize/2) }},
		{"negative count", func() { StoredHashCount(-1) }},
		{"count beyond maximum size", func() { StoredHashCount(maxSize + 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.f()
		})
	}
}

// TestStoredLayout checks, for every log size up to 130, that the stored
// hashes are exactly the hashes of the tree's complete subtrees, each at its
// StoredHashIndex, with no index used twice or left out.
func TestStoredLayout(t *testing.T) {
	const N = 130
	leaves := testLeaves(N)
	log := buildLog(t, leaves)
	for n := int64(0); n <= N; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			count := StoredHashCount(n)
			seen := make([]bool, count)
			for level := 0; int64(1)<<level <= n; level++ {
				for j := int64(0); (j+1)<<level <= n; j++ {
					x := StoredHashIndex(level, j)
					if x < 0 || x >= count || seen[x] {
						t.Fatalf("StoredHashIndex(%d, %d) = %d: out of [0, %d) or used twice", level, j, x, count)
					}
					seen[x] = true
					if want := refRoot(leaves[j<<level : (j+1)<<level]); log[x] != want {
						t.Errorf("stored hash %d (level %d, n %d) = %v, want %v", x, level, j, log[x], want)
					}
				}
			}
			for x, ok := range seen {
				if !ok {
					t.Errorf("storage index %d holds no subtree", x)
				}
			}
		})
	}
}

func TestStoredHashesReadsOnlyOlderHashes(t *testing.T) {
	leaves := testLeaves(64)
	var log memLog
	for n, leaf := range leaves {
		count := StoredHashCount(int64(n))
		r := HashReaderFunc(func(indexes []int64) ([]Hash, error) {
			if len(indexes) > 6 {
				t.Errorf("leaf %d: read %d hashes", n, len(indexes))
			}
			for _, x := range indexes {
				if x >= count {
					t.Errorf("leaf %d: read index %d of %d stored hashes", n, x, count)
				}
			}
			return log.ReadHashes(indexes)
		})
		hs, err := StoredHashes(int64(n), leaf, r)
		if err != nil {
			t.Fatal(err)
		}
		if hs[0] != leaf {
			t.Errorf("leaf %d: first stored hash %v is not the leaf hash %v", n, hs[0], leaf)
		}
		log = append(log, hs...)
		if got, want := int64(len(log)), StoredHashCount(int64(n)+1); got != want {
			t.Fatalf("after leaf %d: %d stored hashes, want %d", n, got, want)
		}
	}
}

func TestTreeHash(t *testing.T) {
	const N = 130
	leaves := testLeaves(N)
	log := buildLog(t, leaves)
	for n := int64(0); n <= N; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			// Only the first n leaves' hashes are visible.
			got, err := TreeHash(n, log[:StoredHashCount(n)])
			if err != nil {
				t.Fatal(err)
			}
			if want := refRoot(leaves[:n]); got != want {
				t.Errorf("TreeHash(%d) = %v, want %v", n, got, want)
			}
		})
	}
}

func TestTreeHashEmpty(t *testing.T) {
	// SHA-256 of no bytes, RFC 6962 section 2.1.
	want, _ := ParseHash("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	got, err := TreeHash(0, HashReaderFunc(func([]int64) ([]Hash, error) {
		t.Error("TreeHash(0) read from storage")
		return nil, nil
	}))
	if err != nil || got != want {
		t.Errorf("TreeHash(0) = %v, %v, want %v, nil", got, err, want)
	}
}

var errStorage = errors.New("storage unavailable")

// TestReaderErrors checks that every function reading storage passes a
// reader's error on, wrapped, and rejects an answer of the wrong length.
func TestReaderErrors(t *testing.T) {
	failing := HashReaderFunc(func([]int64) ([]Hash, error) { return nil, errStorage })
	short := HashReaderFunc(func(indexes []int64) ([]Hash, error) { return make([]Hash, len(indexes)-1), nil })
	long := HashReaderFunc(func(indexes []int64) ([]Hash, error) { return make([]Hash, len(indexes)+1), nil })
	calls := []struct {
		name string
		f    func(HashReader) error
	}{
		{"StoredHashes", func(r HashReader) error { _, err := StoredHashes(7, Hash{}, r); return err }},
		{"TreeHash", func(r HashReader) error { _, err := TreeHash(7, r); return err }},
		{"InclusionProof", func(r HashReader) error { _, err := InclusionProof(2, 7, r); return err }},
		{"ConsistencyProof", func(r HashReader) error { _, err := ConsistencyProof(3, 7, r); return err }},
	}
	for _, c := range calls {
		t.Run(c.name+"/error", func(t *testing.T) {
			if err := c.f(failing); !errors.Is(err, errStorage) {
				t.Errorf("got %v, want an error wrapping %v", err, errStorage)
			}
		})
		t.Run(c.name+"/short", func(t *testing.T) {
			if err := c.f(short); err == nil {
				t.Error("no error for a short answer")
			}
		})
		t.Run(c.name+"/long", func(t *testing.T) {
			if err := c.f(long); err == nil {
				t.Error("no error for a long answer")
			}
		})
	}
}

func TestSizeErrors(t *testing.T) {
	var log memLog
	tests := []struct {
		name string
		f    func() error
	}{
		{"StoredHashes negative", func() error { _, err := StoredHashes(-1, Hash{}, log); return err }},
		{"StoredHashes too large", func() error { _, err := StoredHashes(maxSize, Hash{}, log); return err }},
		{"TreeHash negative", func() error { _, err := TreeHash(-1, log); return err }},
		{"TreeHash too large", func() error { _, err := TreeHash(maxSize+1, log); return err }},
		{"InclusionProof index negative", func() error { _, err := InclusionProof(-1, 5, log); return err }},
		{"InclusionProof index equals size", func() error { _, err := InclusionProof(5, 5, log); return err }},
		{"InclusionProof empty tree", func() error { _, err := InclusionProof(0, 0, log); return err }},
		{"InclusionProof too large", func() error { _, err := InclusionProof(0, maxSize+1, log); return err }},
		{"ConsistencyProof old negative", func() error { _, err := ConsistencyProof(-1, 5, log); return err }},
		{"ConsistencyProof old above new", func() error { _, err := ConsistencyProof(6, 5, log); return err }},
		{"ConsistencyProof too large", func() error { _, err := ConsistencyProof(1, maxSize+1, log); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f(); err == nil {
				t.Error("no error")
			}
		})
	}
}
