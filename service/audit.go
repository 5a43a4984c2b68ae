package service

import (
	"context"
	"fmt"

	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// DamageError reports the first damage Audit found in a stored log.
type DamageError struct {
	// Entry is the index of the damaged entry, or of the entry whose stored hashes are
	// damaged; -1 when the damage is not tied to one entry.
	Entry int64
	// What says what is damaged: "digest", "time or nonce", "leaf hash", "hash", "order",
	// "checkpoint" or "digest index".
	What   string
	Detail string
}

func (e *DamageError) Error() string {
	if e.Entry < 0 {
		return fmt.Sprintf("notary: audit: %s damaged: %s", e.What, e.Detail)
	}
	return fmt.Sprintf("notary: audit: entry %d: %s damaged: %s", e.Entry, e.What, e.Detail)
}

// AuditReport is what Audit checked.
type AuditReport struct {
	Size       int64             // entries read
	Checkpoint notary.Checkpoint // the latest stored checkpoint, whose root was recomputed
	Indexed    int64             // leading entries whose digests were found in the digest index
	// IndexUnchecked says why the digest index was not checked (another process holds
	// it open, say), or is nil.
	IndexUnchecked error
}

// auditChunk is how many entries Audit reads the stored hashes and index entries of at once.
const auditChunk = 4096

// Audit reads the whole stored log, as of one snapshot, and checks that every entry and
// stored Merkle hash is the one the log had when it was signed: it recomputes every stored
// hash from the entries, the latest stored checkpoint's root (whose signature it checks
// with vkey) and the digest index. Its memory does not grow with the log. It returns the
// first damage found as a *DamageError. It may run against a live store. progress, if not
// nil, is called now and then with the number of entries read.
func Audit(ctx context.Context, st Store, vkey string, progress func(read int64)) (*AuditReport, error) {
	cp, err := st.LatestCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("notary: audit: the latest checkpoint: %w", err)
	}
	if _, err := notary.OpenCheckpoint(cp.Note, vkey); err != nil {
		return nil, &DamageError{Entry: -1, What: "checkpoint", Detail: fmt.Sprintf("the stored checkpoint of size %d does not open with the log's key: %v", cp.Size, err)}
	}
	indexed, indexErr := st.IndexedSize(ctx)
	if indexErr != nil {
		indexed = 0
	}
	a := &auditor{st: st, cp: cp, indexed: indexed}
	err = st.ScanEntries(ctx, 0, func(e notary.Entry) error {
		if e.Index != a.edge.n+int64(len(a.chunk)) {
			return &DamageError{Entry: e.Index, What: "order", Detail: fmt.Sprintf("entry %d stands where entry %d belongs", e.Index, a.edge.n+int64(len(a.chunk)))}
		}
		a.chunk = append(a.chunk, e)
		if len(a.chunk) < auditChunk {
			return nil
		}
		if err := a.check(ctx); err != nil {
			return err
		}
		if progress != nil {
			progress(a.edge.n)
		}
		return nil
	})
	if err == nil {
		err = a.check(ctx)
	}
	if err == nil && a.edge.n < cp.Size {
		err = &DamageError{Entry: -1, What: "checkpoint", Detail: fmt.Sprintf("the log holds %d entries, fewer than its checkpoint of size %d", a.edge.n, cp.Size)}
	}
	if err == nil && cp.Size == 0 {
		if empty, _ := merkle.TreeHash(0, nil); cp.Root != empty {
			err = &DamageError{Entry: -1, What: "checkpoint", Detail: "the checkpoint of the empty log has another root"}
		}
	}
	if err == nil && a.firstBad != nil {
		err = a.firstBad
	}
	if err != nil {
		return nil, err
	}
	return &AuditReport{Size: a.edge.n, Checkpoint: cp, Indexed: min(indexed, a.edge.n), IndexUnchecked: indexErr}, nil
}

// auditor holds an audit's state: the right edge of the tree recomputed so far, the entries
// read but not yet checked, and the first stored hash found damaged.
type auditor struct {
	st      Store
	cp      notary.Checkpoint
	indexed int64
	edge    rightEdge
	chunk   []notary.Entry
	// firstBad is the first leaf hash found damaged while the recomputed tree still agreed
	// with the checkpoint: it says whether the entry or the stored hash changed once the
	// checkpoint's root is recomputed.
	firstBad   *DamageError
	rootPassed bool // the recomputed root at the checkpoint's size matched
}

// check checks the entries of a.chunk against their stored hashes and the digest index.
func (a *auditor) check(ctx context.Context) error {
	if len(a.chunk) == 0 {
		return nil
	}
	first := a.chunk[0].Index
	start := merkle.StoredHashCount(first)
	computed := make([]merkle.Hash, 0, 2*len(a.chunk)+1)
	var rootAt *merkle.Hash                   // the recomputed root at the checkpoint's size, if in this chunk
	owners := make([]int64, 0, cap(computed)) // the entry whose append stored each hash
	levels := make([]int, 0, cap(computed))   // and the hash's level in the tree
	for _, e := range a.chunk {
		n := len(computed)
		computed = a.edge.append(e.LeafHash(), computed)
		for l := range len(computed) - n {
			owners, levels = append(owners, e.Index), append(levels, l)
		}
		if a.edge.n == a.cp.Size {
			root := a.edge.root()
			rootAt = &root
		}
	}
	indexes := make([]int64, len(computed))
	for k := range indexes {
		indexes[k] = start + int64(k)
	}
	stored, err := a.st.ReadHashes(ctx, indexes)
	if err != nil {
		return fmt.Errorf("notary: audit: reading the stored hashes of entries %d to %d: %w", first, a.edge.n-1, err)
	}
	for k := range computed {
		if stored[k] == computed[k] || a.firstBad != nil {
			continue
		}
		level := levels[k]
		what := "hash"
		if level == 0 {
			what = "leaf hash"
		}
		a.firstBad = &DamageError{Entry: owners[k], What: what, Detail: fmt.Sprintf(
			"stored Merkle hash %d (level %d) is not the one the entries give", indexes[k], level)}
	}
	if rootAt != nil {
		if *rootAt != a.cp.Root {
			return a.rootMismatch()
		}
		a.rootPassed = true
	}
	if a.firstBad != nil && a.rootPassed {
		// The entries agree with the signed checkpoint: the stored hash changed.
		return a.firstBad
	}
	if err := a.checkIndex(ctx); err != nil {
		return err
	}
	a.chunk = a.chunk[:0]
	return nil
}

// rootMismatch reports that the entries give another root than the checkpoint.
func (a *auditor) rootMismatch() error {
	if d := a.firstBad; d != nil && d.What == "leaf hash" {
		// The entry no longer gives the leaf hash that the signed tree was built from.
		d.What, d.Detail = a.entryField(d.Entry), "the entry no longer hashes to the leaf the signed checkpoint covers"
		return d
	}
	if d := a.firstBad; d != nil {
		return d
	}
	return &DamageError{Entry: -1, What: "checkpoint", Detail: fmt.Sprintf(
		"the entries give another root at size %d than the stored checkpoint", a.cp.Size)}
}

// entryField says which field of a damaged entry changed, as far as the digest index tells:
// "digest" if the index does not map the entry's digest to it, else "time or nonce".
func (a *auditor) entryField(index int64) string {
	if index >= a.indexed {
		return "digest, time or nonce"
	}
	ctx := context.Background()
	e, err := a.st.Entry(ctx, index)
	if err != nil {
		return "digest, time or nonce"
	}
	found := []int64{-1}
	if err := a.st.LookupDigests(ctx, []notary.Digest{e.Digest}, found); err != nil {
		return "digest, time or nonce"
	}
	if found[0] != index {
		return "digest"
	}
	return "time or nonce"
}

// checkIndex checks that the digest index maps the digest of each indexed entry of the
// chunk to that entry, or to an earlier entry of the same digest.
func (a *auditor) checkIndex(ctx context.Context) error {
	var ds []notary.Digest
	var es []notary.Entry
	for _, e := range a.chunk {
		if e.Index < a.indexed {
			ds, es = append(ds, e.Digest), append(es, e)
		}
	}
	if len(ds) == 0 {
		return nil
	}
	found := make([]int64, len(ds))
	if err := a.st.LookupDigests(ctx, ds, found); err != nil {
		return fmt.Errorf("notary: audit: looking up digests: %w", err)
	}
	for k, e := range es {
		switch {
		case found[k] == e.Index:
		case found[k] < 0 || found[k] > e.Index:
			if a.firstBad != nil && a.firstBad.Entry == e.Index {
				continue // the entry itself is damaged; its leaf hash says so
			}
			return &DamageError{Entry: e.Index, What: "digest index", Detail: fmt.Sprintf("the index maps digest %s to %d", e.Digest, found[k])}
		default:
			prev, err := a.st.Entry(ctx, found[k])
			if err != nil {
				return fmt.Errorf("notary: audit: %w", err)
			}
			if prev.Digest != e.Digest {
				return &DamageError{Entry: e.Index, What: "digest index", Detail: fmt.Sprintf("the index maps digest %s to entry %d, of another digest", e.Digest, found[k])}
			}
		}
	}
	return nil
}
