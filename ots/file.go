package ots

import (
	"bytes"
	"fmt"

	"github.com/notary-dev/notary/merkle"
)

// Magic opens every .ots file: readable in a hex dump, and "data" to file(1).
const Magic = "\x00OpenTimestamps\x00\x00Proof\x00\xbf\x89\xe2\xe8\x84\xe8\x92\x94"

// Version is the major version of the file format this package reads and writes.
const Version = 1

// MediaType is the media type OpenTimestamps clients ask calendars for, and the one of
// .ots files.
const MediaType = "application/vnd.opentimestamps.v1"

// A File is a detached timestamp file (.ots): the timestamp of a file's digest.
type File struct {
	// HashOp is the hash operation the file was hashed with: OpSHA256 for notary's
	// proofs; OpSHA1, OpRIPEMD160 or OpKeccak256 in some foreign ones.
	HashOp merkle.OpCode
	// Timestamp is the tree; its root message is the file's digest.
	Timestamp *Timestamp
}

// NewFile returns the .ots file of a SHA-256 digest whose timestamp goes through ops, in
// order, to the single attestation att (see [NewTimestamp]).
func NewFile(digest merkle.Hash, ops []merkle.Op, att Attestation) (*File, error) {
	t, err := NewTimestamp(digest[:], ops, att)
	if err != nil {
		return nil, err
	}
	return &File{HashOp: OpSHA256, Timestamp: t}, nil
}

// Digest returns the digest of the timestamped file.
func (f *File) Digest() []byte { return f.Timestamp.Msg }

// IsFile reports whether data starts with the magic header of an .ots file.
func IsFile(data []byte) bool { return bytes.HasPrefix(data, []byte(Magic)) }

// ParseFile parses an .ots file: magic, version 1, the file's hash operation and digest,
// then the timestamp of the digest, and nothing after it. It returns ErrNotOTS if the
// magic is missing, a *ParseError if the rest is malformed.
func ParseFile(data []byte) (*File, error) { return parseFile(&decoder{b: data}) }

// parseFile is ParseFile of d.b, with d, which a test looks at after.
func parseFile(d *decoder) (*File, error) {
	data := d.b
	if len(data) > MaxSize {
		return nil, fmt.Errorf("ots: file of %d bytes, more than %d", len(data), MaxSize)
	}
	if !IsFile(data) {
		return nil, ErrNotOTS
	}
	d.off, d.budget = len(Magic), maxMsgTotal
	v, err := d.varuint()
	if err != nil {
		return nil, err
	}
	if v != Version {
		d.off = len(Magic)
		return nil, d.fail("major version %d, this reader knows %d", v, Version)
	}
	c, err := d.byte()
	if err != nil {
		return nil, err
	}
	op := merkle.OpCode(c)
	n := DigestLen(op)
	if n == 0 {
		d.off--
		return nil, d.fail("file hash operation 0x%02x is not a hash", c)
	}
	digest, err := d.bytes(n)
	if err != nil {
		return nil, err
	}
	t, err := d.timestamp(bytes.Clone(digest), 0)
	if err != nil {
		return nil, err
	}
	if d.off != len(d.b) {
		return nil, d.fail("trailing data after the timestamp")
	}
	return &File{HashOp: op, Timestamp: t}, nil
}

// MarshalBinary returns the file as the reference writes it.
func (f *File) MarshalBinary() ([]byte, error) {
	n := DigestLen(f.HashOp)
	if n == 0 {
		return nil, fmt.Errorf("ots: file hash operation 0x%02x is not a hash", byte(f.HashOp))
	}
	if f.Timestamp == nil || len(f.Timestamp.Msg) != n {
		return nil, fmt.Errorf("ots: a %s file digest must be %d bytes", OpName(f.HashOp), n)
	}
	b := append([]byte(Magic), Version, byte(f.HashOp))
	b = append(b, f.Timestamp.Msg...)
	return f.Timestamp.appendTo(b, 0)
}

// String describes the file in the manner of the reference's "ots info".
func (f *File) String() string {
	return fmt.Sprintf("File %s hash: %x\nTimestamp:\n%s", OpName(f.HashOp), f.Digest(), f.Timestamp)
}
