package service_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/service"
)

// memStore is a service.Store in memory. failAppend, if set, makes AppendEntries fail.
type memStore struct {
	mu          sync.Mutex
	entries     []notary.Entry
	hashes      []merkle.Hash
	checkpoints []notary.Checkpoint
	failAppend  error
	indexed     int64
	index       map[notary.Digest]int64
}

var _ service.Store = (*memStore)(nil)

func (m *memStore) AppendEntries(ctx context.Context, entries []notary.Entry, hashes []merkle.Hash) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failAppend != nil {
		return m.failAppend
	}
	for k, e := range entries {
		if e.Index != int64(len(m.entries)+k) {
			return fmt.Errorf("memStore: entry %d out of sequence", e.Index)
		}
	}
	if len(entries) > 0 && merkle.StoredHashCount(entries[0].Index) != int64(len(m.hashes)) {
		return fmt.Errorf("memStore: hashes out of sequence")
	}
	m.entries = append(m.entries, entries...)
	m.hashes = append(m.hashes, hashes...)
	return nil
}

func (m *memStore) ReadHashes(ctx context.Context, indexes []int64) ([]merkle.Hash, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]merkle.Hash, len(indexes))
	for k, i := range indexes {
		if i < 0 || i >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("memStore: hash %d: %w", i, service.ErrNotFound)
		}
		out[k] = m.hashes[i]
	}
	return out, nil
}

func (m *memStore) Entry(ctx context.Context, index int64) (notary.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if index < 0 || index >= int64(len(m.entries)) {
		return notary.Entry{}, fmt.Errorf("memStore: entry %d: %w", index, service.ErrNotFound)
	}
	return m.entries[index], nil
}

func (m *memStore) Lead(ctx context.Context) (int64, error) { return 1, nil }

func (m *memStore) LogSize(ctx context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.entries)), nil
}

func (m *memStore) IndexedSize(ctx context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.indexed, nil
}

func (m *memStore) IndexDigests(ctx context.Context, through int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if through < m.indexed || through > int64(len(m.entries)) {
		return fmt.Errorf("memStore: index through %d, indexed %d, size %d", through, m.indexed, len(m.entries))
	}
	if m.index == nil {
		m.index = make(map[notary.Digest]int64)
	}
	for _, e := range m.entries[m.indexed:through] {
		if _, ok := m.index[e.Digest]; !ok {
			m.index[e.Digest] = e.Index
		}
	}
	m.indexed = through
	return nil
}

func (m *memStore) LookupDigests(ctx context.Context, digests []notary.Digest, indexes []int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, d := range digests {
		if i, ok := m.index[d]; ok {
			indexes[k] = i
		} else {
			indexes[k] = -1
		}
	}
	return nil
}

func (m *memStore) ScanEntries(ctx context.Context, from int64, fn func(notary.Entry) error) error {
	m.mu.Lock()
	entries := append([]notary.Entry{}, m.entries[min(from, int64(len(m.entries))):]...)
	m.mu.Unlock()
	for _, e := range entries {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) SaveCheckpoint(ctx context.Context, c notary.Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.checkpoints); n > 0 && c.Size < m.checkpoints[n-1].Size {
		return fmt.Errorf("memStore: checkpoint of size %d after %d", c.Size, m.checkpoints[n-1].Size)
	}
	m.checkpoints = append(m.checkpoints, c)
	return nil
}

func (m *memStore) Checkpoint(ctx context.Context, size int64) (notary.Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.checkpoints {
		if c.Size == size {
			return c, nil
		}
	}
	return notary.Checkpoint{}, fmt.Errorf("memStore: checkpoint %d: %w", size, service.ErrNotFound)
}

func (m *memStore) LatestCheckpoint(ctx context.Context) (notary.Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.checkpoints) == 0 {
		return notary.Checkpoint{}, fmt.Errorf("memStore: no checkpoint: %w", service.ErrNotFound)
	}
	return m.checkpoints[len(m.checkpoints)-1], nil
}
