package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/notary-dev/notary/notary"
)

// The API's lookup answer (GET /v1/timestamps/{digest}) holds the proof document in its
// "proof" member; a user who saves that answer as it is has the proof in an envelope.
// parseEnvelope takes the proof out, strictly: the proof member is parsed as a proof file
// is, and nothing else of the envelope is believed but its digest, which must be the proof's.

// parseEnvelope reports whether data is an answer of the API's lookup (a JSON object with
// no "format" member, which a proof has, and with a "proof" member, an "error" member, or
// the "digest" and "status" of a lookup answered before a checkpoint covered the entry) and,
// if it is, returns the proof it holds or says why it holds none.
func parseEnvelope(data []byte) (p *notary.Proof, isEnvelope bool, err error) {
	if len(data) > 2*notary.MaxProofSize || !utf8.Valid(data) {
		return nil, false, nil
	}
	members, err := objectMembers(data)
	if err != nil {
		return nil, false, nil
	}
	if _, ok := members["format"]; ok {
		return nil, false, nil
	}
	if raw, ok := members["error"]; ok {
		var e struct{ Code, Message string }
		if json.Unmarshal(raw, &e) != nil || e.Message == "" {
			return nil, true, errors.New("it is an error answer of the API, not a proof")
		}
		return nil, true, fmt.Errorf("it is the API's error answer, not a proof: %s (%s)", printable([]byte(e.Message), 200), printable([]byte(e.Code), 40))
	}
	raw, ok := members["proof"]
	_, hasDigest := members["digest"]
	_, hasStatus := members["status"]
	if !ok && !(hasDigest && hasStatus) {
		return nil, false, nil
	}
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, true, errors.New("the lookup answer holds no proof yet: no signed checkpoint covered the entry when it was saved")
	}
	if p, err = notary.ParseProof(raw); err != nil {
		return nil, true, fmt.Errorf("the lookup answer's proof member: %w", err)
	}
	if rawDigest, ok := members["digest"]; ok {
		var d string
		if err := json.Unmarshal(rawDigest, &d); err != nil || d != p.Digest.String() {
			return nil, true, fmt.Errorf("the lookup answer is for digest %s, its proof for %s", printable(rawDigest, 80), p.Digest)
		}
	}
	return p, true, nil
}

// objectMembers returns the members of the JSON object data, refusing anything else, a
// member named twice and trailing data.
func objectMembers(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	members := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if _, dup := members[name]; dup {
			return nil, fmt.Errorf("member %q twice", name)
		}
		members[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("trailing data")
	}
	return members, nil
}
