package ots

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/notary-dev/notary/merkle"
)

// A Timestamp is a node of a timestamp tree: a message, the attestations that it existed
// by some time, and the branches to other messages it commits to.
//
// Msg is not serialized: a reader computes it from the parent's message, and the root's is
// given (a file's digest, or the message sent to a calendar). A serializable timestamp has
// at least one attestation or branch in every node, no attestation or branch twice in a
// node, and in every branch Result.Msg equal to Op applied to Msg.
type Timestamp struct {
	Msg          []byte
	Attestations []Attestation
	Branches     []Branch
}

// A Branch is an edge of the tree: an operation and the timestamp of its result.
type Branch struct {
	Op     merkle.Op
	Result *Timestamp
}

// NewTimestamp returns the timestamp of msg that goes through ops, in order, to a node
// with the single attestation att: a tree without forks. It returns an error if an
// operation does not apply (see [Apply]) or att cannot be serialized.
func NewTimestamp(msg []byte, ops []merkle.Op, att Attestation) (*Timestamp, error) {
	if len(msg) > MaxMsgLen {
		return nil, fmt.Errorf("ots: message of %d bytes, more than %d", len(msg), MaxMsgLen)
	}
	if len(ops) >= MaxDepth {
		return nil, fmt.Errorf("ots: %d operations, more than %d", len(ops), MaxDepth-1)
	}
	if err := checkAttestation(att); err != nil {
		return nil, err
	}
	root := &Timestamp{Msg: bytes.Clone(msg)}
	t := root
	for i, op := range ops {
		res, err := Apply(op, t.Msg)
		if err != nil {
			return nil, fmt.Errorf("ots: operation %d: %w", i, err)
		}
		next := &Timestamp{Msg: res}
		t.Branches = []Branch{{Op: merkle.Op{Code: op.Code, Arg: bytes.Clone(op.Arg)}, Result: next}}
		t = next
	}
	t.Attestations = []Attestation{att}
	return root, nil
}

// Merge adds the attestations and branches of other to t, recursively: a branch with an
// operation t already has is merged into t's, others are added (sharing other's nodes).
// Both must be for the same message. This is how a calendar's answer completes a pending
// timestamp: merge it into the node of the pending attestation.
func (t *Timestamp) Merge(other *Timestamp) error {
	if !bytes.Equal(t.Msg, other.Msg) {
		return fmt.Errorf("ots: cannot merge the timestamp of %x into the one of %x", other.Msg, t.Msg)
	}
	// The entries t has are looked up in maps, not compared pairwise: a calendar's answer
	// may carry tens of thousands of them.
	if len(other.Attestations) > 0 {
		have := make(map[string]bool, len(t.Attestations)+len(other.Attestations))
		for _, a := range t.Attestations {
			have[attestationKey(a)] = true
		}
		for _, a := range other.Attestations {
			if k := attestationKey(a); !have[k] {
				have[k] = true
				t.Attestations = append(t.Attestations, a)
			}
		}
	}
	if len(other.Branches) > 0 {
		at := make(map[string]int, len(t.Branches)+len(other.Branches))
		for i, b := range t.Branches {
			at[opKey(b.Op)] = i
		}
		for _, ob := range other.Branches {
			k := opKey(ob.Op)
			i, ok := at[k]
			if !ok {
				at[k] = len(t.Branches)
				t.Branches = append(t.Branches, ob)
				continue
			}
			if err := t.Branches[i].Result.Merge(ob.Result); err != nil {
				return err
			}
		}
	}
	return nil
}

// attestationKey returns a string equal for two attestations exactly when sameAttestation
// reports them the same: the tag, then the payload.
func attestationKey(a Attestation) string {
	tag := a.Tag()
	return string(tag[:]) + string(a.Payload())
}

// opKey returns a string equal for two operations exactly when sameOp reports them the
// same: the code, then the argument.
func opKey(op merkle.Op) string { return string([]byte{byte(op.Code)}) + string(op.Arg) }

// Attested is an attestation and the node it hangs off, whose Msg is what it attests.
type Attested struct {
	Node        *Timestamp
	Attestation Attestation
}

// AllAttestations returns every attestation of the tree with its node, in the order the
// tree is serialized: a node's attestations before its branches, sorted as written.
func (t *Timestamp) AllAttestations() []Attested {
	var out []Attested
	var walk func(*Timestamp)
	walk = func(n *Timestamp) {
		for _, a := range sortedAttestations(n.Attestations) {
			out = append(out, Attested{Node: n, Attestation: a})
		}
		for _, b := range sortedBranches(n.Branches) {
			if b.Result != nil {
				walk(b.Result)
			}
		}
	}
	walk(t)
	return out
}

// Complete reports whether the tree has a Bitcoin attestation.
func (t *Timestamp) Complete() bool {
	return slices.ContainsFunc(t.AllAttestations(), func(a Attested) bool {
		_, ok := a.Attestation.(Bitcoin)
		return ok
	})
}

// Equal reports whether t and u are the same tree: the same messages, attestations and
// branches, in any order.
func (t *Timestamp) Equal(u *Timestamp) bool {
	if t == nil || u == nil {
		return t == u
	}
	if !bytes.Equal(t.Msg, u.Msg) || len(t.Attestations) != len(u.Attestations) || len(t.Branches) != len(u.Branches) {
		return false
	}
	ta, ua := sortedAttestations(t.Attestations), sortedAttestations(u.Attestations)
	for i := range ta {
		if !sameAttestation(ta[i], ua[i]) {
			return false
		}
	}
	tb, ub := sortedBranches(t.Branches), sortedBranches(u.Branches)
	for i := range tb {
		if !sameOp(tb[i].Op, ub[i].Op) || !tb[i].Result.Equal(ub[i].Result) {
			return false
		}
	}
	return true
}

// String returns the tree in the manner of the reference's "ots info": one operation per line,
// each fork's branches marked "->" and indented, "verify" lines for attestations, with the
// Merkle root (as explorers print it) under a Bitcoin attestation.
func (t *Timestamp) String() string {
	var sb strings.Builder
	t.format(&sb, 0)
	return sb.String()
}

func (t *Timestamp) format(sb *strings.Builder, indent int) {
	pad := strings.Repeat(" ", indent)
	for _, a := range sortedAttestations(t.Attestations) {
		fmt.Fprintf(sb, "%sverify %v\n", pad, a)
		if _, ok := a.(Bitcoin); ok {
			fmt.Fprintf(sb, "%s# Bitcoin block merkle root %s\n", pad, reverseHex(t.Msg))
		}
	}
	branches := sortedBranches(t.Branches)
	if len(branches) == 1 {
		fmt.Fprintf(sb, "%s%s\n", pad, opString(branches[0].Op))
		branches[0].Result.format(sb, indent)
		return
	}
	for _, b := range branches {
		fmt.Fprintf(sb, "%s -> %s\n", pad, opString(b.Op))
		b.Result.format(sb, indent+4)
	}
}

// reverseHex returns b byte-reversed in hex, as explorers print hashes.
func reverseHex(b []byte) string {
	r := slices.Clone(b)
	slices.Reverse(r)
	return hex.EncodeToString(r)
}

// sameOp reports whether a and b are the same operation.
func sameOp(a, b merkle.Op) bool { return a.Code == b.Code && bytes.Equal(a.Arg, b.Arg) }

// compareOps orders operations as the reference does: by code, then by argument.
func compareOps(a, b merkle.Op) int {
	if a.Code != b.Code {
		return int(a.Code) - int(b.Code)
	}
	return bytes.Compare(a.Arg, b.Arg)
}

func sortedAttestations(as []Attestation) []Attestation {
	return slices.SortedStableFunc(slices.Values(as), compareAttestations)
}

func sortedBranches(bs []Branch) []Branch {
	return slices.SortedStableFunc(slices.Values(bs), func(a, b Branch) int { return compareOps(a.Op, b.Op) })
}

// errEmpty is returned for a node with neither attestations nor branches.
var errEmpty = errors.New("ots: a timestamp node has neither attestations nor branches")
