package ots

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/notary-dev/notary/merkle"
)

// Limits of the parser.
const (
	// MaxSize is the largest input ParseFile and ParseTimestamp accept, in bytes.
	MaxSize = 1 << 20
	// MaxDepth is the most nodes on a path from the root, as in the reference (which
	// calls it the recursion limit): MaxDepth-1 operations.
	MaxDepth = 256
	// maxMsgTotal bounds the sum of the lengths of all the messages of a parsed tree,
	// which the parser computes and keeps: a small input with many forks off a long
	// message must not take gigabytes.
	maxMsgTotal = 16 << 20
)

// Markers of the tree format.
const (
	markFork        = 0xff // before each of a node's entries but the last
	markAttestation = 0x00 // an attestation; any other byte is an operation
)

// ParseError is a parse failure and where it happened.
type ParseError struct {
	Offset int // byte offset in the input
	Msg    string
}

func (e *ParseError) Error() string { return fmt.Sprintf("ots: at byte %d: %s", e.Offset, e.Msg) }

// ErrNotOTS is returned by ParseFile for input without the magic header of an .ots file.
var ErrNotOTS = errors.New("ots: not an OpenTimestamps proof (no magic header)")

// ParseTimestamp parses a timestamp without header, as a calendar answers it, whose root
// message is msg. It rejects trailing data.
func ParseTimestamp(data, msg []byte) (*Timestamp, error) {
	return parseTimestamp(&decoder{b: data}, msg)
}

// parseTimestamp is ParseTimestamp of d.b, with d, which a test looks at after.
func parseTimestamp(d *decoder, msg []byte) (*Timestamp, error) {
	data := d.b
	if len(data) > MaxSize {
		return nil, fmt.Errorf("ots: timestamp of %d bytes, more than %d", len(data), MaxSize)
	}
	if len(msg) > MaxMsgLen {
		return nil, fmt.Errorf("ots: message of %d bytes, more than %d", len(msg), MaxMsgLen)
	}
	d.budget = maxMsgTotal
	t, err := d.timestamp(bytes.Clone(msg), 0)
	if err != nil {
		return nil, err
	}
	if d.off != len(d.b) {
		return nil, d.fail("trailing data after the timestamp")
	}
	return t, nil
}

// MarshalBinary returns the timestamp serialized as the reference serializes it, without
// header: the form of a calendar's answer. It returns an error for a tree that is not
// serializable (see [Timestamp]) or deeper than MaxDepth.
func (t *Timestamp) MarshalBinary() ([]byte, error) {
	return t.appendTo(nil, 0)
}

func (t *Timestamp) appendTo(b []byte, depth int) ([]byte, error) {
	if depth >= MaxDepth {
		return nil, fmt.Errorf("ots: timestamp deeper than %d", MaxDepth)
	}
	if len(t.Attestations) == 0 && len(t.Branches) == 0 {
		return nil, errEmpty
	}
	atts := sortedAttestations(t.Attestations)
	for i, a := range atts {
		if err := checkAttestation(a); err != nil {
			return nil, err
		}
		if i > 0 && sameAttestation(atts[i-1], a) {
			return nil, fmt.Errorf("ots: attestation %v twice on one node", a)
		}
	}
	branches := sortedBranches(t.Branches)
	for i, br := range branches {
		if i > 0 && sameOp(branches[i-1].Op, br.Op) {
			return nil, fmt.Errorf("ots: operation %s twice on one node", opString(br.Op))
		}
		if br.Result == nil {
			return nil, fmt.Errorf("ots: operation %s leads nowhere", opString(br.Op))
		}
		res, err := Apply(br.Op, t.Msg)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(res, br.Result.Msg) {
			return nil, fmt.Errorf("ots: %s of %x is %x, not the %x its node says", opString(br.Op), t.Msg, res, br.Result.Msg)
		}
	}
	// Every entry but the last is preceded by a fork marker: attestations first, then
	// branches, each in order.
	last := len(atts) + len(branches) - 1
	for i, a := range atts {
		if i < last {
			b = append(b, markFork)
		}
		tag := a.Tag()
		b = append(b, markAttestation)
		b = append(b, tag[:]...)
		b = appendVarbytes(b, a.Payload())
	}
	for i, br := range branches {
		if len(atts)+i < last {
			b = append(b, markFork)
		}
		b = append(b, byte(br.Op.Code))
		if takesArg(br.Op.Code) {
			b = appendVarbytes(b, br.Op.Arg)
		}
		var err error
		if b, err = br.Result.appendTo(b, depth+1); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// decoder reads the format from b.
type decoder struct {
	b      []byte
	off    int
	budget int // message bytes the tree may still hold

	// seen holds the entries read so far of every node with more than one, to refuse an
	// entry twice in a node in time linear in the input (a file of 1 MiB can have 74,000
	// attestations on one node); nodes counts the nodes begun, to name them.
	seen  map[entryKey]struct{}
	nodes int
	// checked counts the bytes of entries the duplicate checks have looked up: each
	// entry's encoding once, so never more than the input's length.
	checked int
}

// entryKey is an entry of a node: the node's number and the entry's encoding, from its
// marker (an attestation) or its code (an operation) to its end. The format is canonical
// (shortest integers, no trailing payload), so equal entries have equal encodings.
type entryKey struct {
	node int
	enc  string
}

// firstInNode reports whether the entry encoded as d.b[start:d.off] is the first of its
// kind in the node, and records it.
func (d *decoder) firstInNode(node, start int) bool {
	enc := d.b[start:d.off]
	d.checked += len(enc)
	if d.seen == nil {
		d.seen = make(map[entryKey]struct{})
	}
	k := entryKey{node: node, enc: string(enc)}
	if _, ok := d.seen[k]; ok {
		return false
	}
	d.seen[k] = struct{}{}
	return true
}

func (d *decoder) fail(format string, args ...any) error {
	return &ParseError{Offset: d.off, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) byte() (byte, error) {
	if d.off >= len(d.b) {
		return 0, d.fail("truncated")
	}
	c := d.b[d.off]
	d.off++
	return c, nil
}

func (d *decoder) bytes(n int) ([]byte, error) {
	if n > len(d.b)-d.off {
		return nil, d.fail("truncated: want %d bytes, %d left", n, len(d.b)-d.off)
	}
	out := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return out, nil
}

// varuint reads an unsigned LEB128 integer in its shortest form, at most 64 bits.
func (d *decoder) varuint() (uint64, error) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		start := d.off
		c, err := d.byte()
		if err != nil {
			return 0, err
		}
		if shift == 63 && c > 1 {
			d.off = start
			return 0, d.fail("integer larger than 64 bits")
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if c == 0 && shift > 0 {
				d.off = start
				return 0, d.fail("integer not in its shortest form")
			}
			return v, nil
		}
	}
}

// varbytes reads a length and that many bytes, the length in [min, max].
func (d *decoder) varbytes(minLen, maxLen int) ([]byte, error) {
	start := d.off
	n, err := d.varuint()
	if err != nil {
		return nil, err
	}
	if n < uint64(minLen) || n > uint64(maxLen) {
		d.off = start
		return nil, d.fail("length %d out of range [%d, %d]", n, minLen, maxLen)
	}
	return d.bytes(int(n))
}

func (d *decoder) timestamp(msg []byte, depth int) (*Timestamp, error) {
	if depth >= MaxDepth {
		return nil, d.fail("timestamp deeper than %d", MaxDepth)
	}
	if d.budget -= len(msg); d.budget < 0 {
		return nil, d.fail("the messages of the tree exceed %d bytes", maxMsgTotal)
	}
	t := &Timestamp{Msg: msg}
	node := d.nodes
	d.nodes++
	for first := true; ; first = false {
		c, err := d.byte()
		if err != nil {
			return nil, err
		}
		fork := c == markFork
		if fork {
			if c, err = d.byte(); err != nil {
				return nil, err
			}
		}
		// Every entry of a node but the last follows a fork marker: a node whose first
		// entry does not has no other, and nothing to compare it with.
		check := fork || !first
		if c == markAttestation {
			start := d.off
			a, err := d.attestation()
			if err != nil {
				return nil, err
			}
			if check && !d.firstInNode(node, start-1) {
				d.off = start
				return nil, d.fail("attestation %v twice on one node", a)
			}
			t.Attestations = append(t.Attestations, a)
		} else {
			d.off--
			start := d.off
			op, err := d.op()
			if err != nil {
				return nil, err
			}
			if check && !d.firstInNode(node, start) {
				d.off = start
				return nil, d.fail("operation %s twice on one node", opString(op))
			}
			res, err := Apply(op, msg)
			if err != nil {
				d.off = start
				return nil, d.fail("%s", strings.TrimPrefix(err.Error(), "ots: "))
			}
			child, err := d.timestamp(res, depth+1)
			if err != nil {
				return nil, err
			}
			t.Branches = append(t.Branches, Branch{Op: op, Result: child})
		}
		if !fork {
			return t, nil
		}
	}
}

// op reads an operation: its code and, for append and prepend, its argument.
func (d *decoder) op() (merkle.Op, error) {
	c, err := d.byte()
	if err != nil {
		return merkle.Op{}, err
	}
	code := merkle.OpCode(c)
	if OpName(code) == "" {
		d.off--
		return merkle.Op{}, d.fail("unknown operation 0x%02x", c)
	}
	op := merkle.Op{Code: code}
	if takesArg(code) {
		arg, err := d.varbytes(1, MaxMsgLen)
		if err != nil {
			return merkle.Op{}, err
		}
		op.Arg = bytes.Clone(arg)
	}
	return op, nil
}

// attestation reads an attestation after its marker: tag, then payload as varbytes.
func (d *decoder) attestation() (Attestation, error) {
	raw, err := d.bytes(len(Tag{}))
	if err != nil {
		return nil, err
	}
	tag := Tag(raw)
	payloadAt := d.off
	payload, err := d.varbytes(0, MaxPayloadLen)
	if err != nil {
		return nil, err
	}
	p := &decoder{b: payload}
	fail := func(format string, args ...any) error {
		return &ParseError{Offset: payloadAt, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case tag == PendingTag:
		uri, err := p.varbytes(0, MaxURILen)
		if err != nil || p.off != len(p.b) {
			return nil, fail("pending attestation payload is not one URI")
		}
		if err := CheckURI(string(uri)); err != nil {
			return nil, fail("%s", strings.TrimPrefix(err.Error(), "ots: "))
		}
		return Pending{URI: string(uri)}, nil
	case heightTag(tag):
		h, err := p.varuint()
		if err != nil || p.off != len(p.b) {
			return nil, fail("block attestation payload is not one block height")
		}
		if tag == BitcoinTag {
			return Bitcoin{Height: h}, nil
		}
	}
	return Unknown{Kind: tag, Data: bytes.Clone(payload)}, nil
}

func appendVaruint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendVarbytes(b, v []byte) []byte {
	return append(appendVaruint(b, uint64(len(v))), v...)
}
