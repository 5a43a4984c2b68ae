package service

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/notary-dev/notary/notary"
)

// SignedHead remembers, apart from the Store, the greatest checkpoint the log's key has
// signed, receipts included: a Store that lost entries or was replaced by an older copy
// is then caught at start instead of silently forking the log.
type SignedHead interface {
	// Latest returns the greatest checkpoint recorded, or an error wrapping ErrNotFound.
	Latest() (notary.Checkpoint, error)
	// Record records c if it is greater than the latest; it survives a crash of the
	// process once Record returns, and a crash of the machine once Sync returns.
	Record(c notary.Checkpoint) error
	// Sync makes what was recorded durable.
	Sync() error
}

// headSlot is the size of each of the two slots of a HeadFile, far more than a checkpoint
// note takes.
const headSlot = 4096

// HeadFile is a SignedHead in a file of two slots written in turn, so that a write torn
// by a crash leaves the other slot whole. Each slot holds a signed checkpoint note,
// which is opened with the log's verifier key on reading.
type HeadFile struct {
	mu     sync.Mutex
	f      *os.File
	vkey   string
	latest *notary.Checkpoint
	next   int    // the slot the next Record writes
	slot   []byte // the bytes Record writes, reused
}

// OpenHeadFile opens (creating it, mode 0600) the head file at path of the log whose
// verifier key is vkey.
func OpenHeadFile(path, vkey string) (*HeadFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("notary: signed head: %w", err)
	}
	h := &HeadFile{f: f, vkey: vkey}
	buf := make([]byte, 2*headSlot)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("notary: signed head %s: %w", path, err)
	}
	buf = buf[:n]
	var bad []error
	for slot := range 2 {
		lo := slot * headSlot
		if lo >= len(buf) {
			break
		}
		raw := buf[lo:min(len(buf), lo+headSlot)]
		if end := bytes.IndexByte(raw, 0); end >= 0 {
			raw = raw[:end]
		}
		if len(raw) == 0 {
			continue
		}
		c, err := notary.OpenCheckpoint(raw, vkey)
		if err != nil {
			bad = append(bad, fmt.Errorf("slot %d: %w", slot, err))
			continue
		}
		if h.latest == nil || c.Size > h.latest.Size {
			h.latest, h.next = &c, 1-slot
		}
	}
	if h.latest == nil && len(bad) == 2 {
		f.Close()
		return nil, fmt.Errorf("notary: signed head %s holds no checkpoint of this log's key: %w", path, errors.Join(bad...))
	}
	return h, nil
}

// Latest implements SignedHead.
func (h *HeadFile) Latest() (notary.Checkpoint, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.latest == nil {
		return notary.Checkpoint{}, fmt.Errorf("notary: signed head: %w", ErrNotFound)
	}
	return *h.latest, nil
}

// Record implements SignedHead: one write to the page cache, no sync.
func (h *HeadFile) Record(c notary.Checkpoint) error {
	if len(c.Note) >= headSlot {
		return fmt.Errorf("notary: signed head: a checkpoint note of %d bytes does not fit", len(c.Note))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.latest != nil && c.Size <= h.latest.Size {
		return nil
	}
	if h.slot == nil {
		h.slot = make([]byte, headSlot)
	}
	clear(h.slot[copy(h.slot, c.Note):])
	if _, err := h.f.WriteAt(h.slot, int64(h.next*headSlot)); err != nil {
		return fmt.Errorf("notary: signed head: %w", err)
	}
	h.latest, h.next = &c, 1-h.next
	return nil
}

// Sync implements SignedHead.
func (h *HeadFile) Sync() error {
	if err := h.f.Sync(); err != nil {
		return fmt.Errorf("notary: signed head: %w", err)
	}
	return nil
}

// Close closes the file after syncing it.
func (h *HeadFile) Close() error {
	return errors.Join(h.Sync(), h.f.Close())
}
