package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/notary-dev/notary/notary"
)

// parseBatchRequest decodes the body of a batch submission: a JSON object with the fields
// "digests" (an array of hex digests, or null) and "callback" (a string, or null). It
// accepts exactly what encoding/json does when decoding into batchRequest with unknown
// fields disallowed (field names match without regard to case; a repeated field keeps
// its last value), and is several times faster on the 700 kB of a full batch: digests
// without escapes are decoded as they are scanned. The error is an *Error.
//
// This is not internal/strictjson's job: a client's body is read by encoding/json's rules,
// which the API has always followed, while strictjson refuses what those rules let pass in
// files that must have one meaning (proofs, anchor records).
func parseBatchRequest(b []byte) (batchRequest, error) {
	var req batchRequest
	p := bodyParser{b: b}
	err := p.object(func(key string) error {
		switch {
		case strings.EqualFold(key, "digests"):
			var err error
			req.Digests, err = p.digests()
			return err
		case strings.EqualFold(key, "callback"):
			return p.stringField("callback", &req.Callback)
		}
		return fmt.Errorf("unknown field %q", key)
	})
	if err != nil {
		return batchRequest{}, bodyError(err)
	}
	return req, nil
}

// parseSubmitRequest decodes the body of a single submission, {"digest": …, "callback": …},
// exactly as encoding/json would decode it into submitRequest with unknown fields
// disallowed, at a fraction of the cost. The error is an *Error; the digest is not checked.
func parseSubmitRequest(b []byte) (submitRequest, error) {
	var req submitRequest
	p := bodyParser{b: b}
	err := p.object(func(key string) error {
		switch {
		case strings.EqualFold(key, "digest"):
			return p.stringField("digest", &req.Digest)
		case strings.EqualFold(key, "callback"):
			return p.stringField("callback", &req.Callback)
		}
		return fmt.Errorf("unknown field %q", key)
	})
	if err != nil {
		return submitRequest{}, bodyError(err)
	}
	return req, nil
}

// bodyError turns an error of the parser into the API error the client gets.
func bodyError(err error) error {
	var de *digestError
	var te *tooManyError
	var fe *fieldTypeError
	switch {
	case errors.As(err, &de):
		return apiError(codeBadDigest, "%v", de)
	case errors.As(err, &te):
		return apiError(codeTooManyDigests, "%v", te)
	case errors.As(err, &fe):
		return apiError(codeBadJSON, "the body is not the expected JSON: %v", fe)
	case errors.Is(err, errTrailingData):
		return apiError(codeBadJSON, "the body has data after the JSON object")
	}
	return apiError(codeBadJSON, "the body is not the expected JSON: %v", err)
}

var errTrailingData = errors.New("data after the JSON object")

// fieldTypeError reports a field of the wrong JSON type.
type fieldTypeError struct{ field, want string }

func (e *fieldTypeError) Error() string { return fmt.Sprintf("field %q must be %s", e.field, e.want) }

type bodyParser struct {
	b []byte
	i int
}

func (p *bodyParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// syntax returns the error of an unexpected byte (or end) at the current position.
func (p *bodyParser) syntax() error {
	if p.i >= len(p.b) {
		return errors.New("unexpected end of JSON input")
	}
	return fmt.Errorf("invalid character %q at offset %d", p.b[p.i], p.i)
}

// consume skips c, and white space after it, if the next byte is c.
func (p *bodyParser) consume(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		p.space()
		return true
	}
	return false
}

func (p *bodyParser) literal(word string) bool {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

// object decodes the JSON object that must be the whole body, calling field for each key
// to decode its value (the parser is then at the value). A body of null leaves every field
// as it is, as encoding/json does.
func (p *bodyParser) object(field func(key string) error) error {
	p.space()
	if p.literal("null") {
		p.space()
		if p.i != len(p.b) {
			return errTrailingData
		}
		return nil
	}
	if p.i < len(p.b) && p.b[p.i] != '{' {
		if _, err := p.skipValue(); err != nil {
			return err
		}
		return errors.New("the body must be a JSON object")
	}
	if !p.consume('{') {
		return p.syntax()
	}
	if !p.consume('}') {
		for {
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return p.syntax()
			}
			key, err := p.str()
			if err != nil {
				return err
			}
			p.space()
			if !p.consume(':') {
				return p.syntax()
			}
			if err := field(key); err != nil {
				return err
			}
			p.space()
			if p.consume(',') {
				continue
			}
			if p.consume('}') {
				break
			}
			return p.syntax()
		}
	}
	if p.i != len(p.b) {
		return errTrailingData
	}
	return nil
}

// stringField decodes the value of the field name into s: a string, or null, which leaves
// s as it is, as encoding/json does.
func (p *bodyParser) stringField(name string, s *string) error {
	switch {
	case p.literal("null"):
		return nil
	case p.i < len(p.b) && p.b[p.i] == '"':
		var err error
		*s, err = p.str()
		return err
	}
	if _, err := p.skipValue(); err != nil {
		return err
	}
	return &fieldTypeError{name, "a string"}
}

// digests decodes the array of digests (or null).
func (p *bodyParser) digests() (digestList, error) {
	if p.literal("null") {
		return nil, nil
	}
	if p.i >= len(p.b) || p.b[p.i] != '[' {
		if _, err := p.skipValue(); err != nil {
			return nil, err
		}
		return nil, &fieldTypeError{"digests", "an array of strings"}
	}
	p.i++
	p.space()
	out := make(digestList, 0, min(len(p.b)/67+1, MaxBatchDigests))
	if p.consume(']') {
		return out, nil
	}
	for {
		if len(out) == MaxBatchDigests {
			return nil, &tooManyError{}
		}
		switch {
		case p.i < len(p.b) && p.b[p.i] == '"':
		case p.literal("null"):
			return nil, &digestError{len(out), fmt.Errorf("%w: it is null", notary.ErrBadDigest)}
		default:
			if _, err := p.skipValue(); err != nil {
				return nil, err
			}
			return nil, &fieldTypeError{"digests", "an array of strings"}
		}
		var d notary.Digest
		if end := p.i + 1 + 2*len(d); end < len(p.b) && p.b[end] == '"' && decodeHex(d[:], p.b[p.i+1:end]) {
			p.i = end + 1 // the common case: 64 hex digits, which need no unescaping
		} else {
			s, err := p.str()
			if err != nil {
				return nil, err
			}
			if d, err = notary.ParseDigest(s); err != nil {
				return nil, &digestError{len(out), err}
			}
		}
		out = append(out, d)
		p.space()
		if p.consume(',') {
			continue
		}
		if p.consume(']') {
			return out, nil
		}
		return nil, p.syntax()
	}
}

// str decodes the JSON string at the current position, as encoding/json would.
func (p *bodyParser) str() (string, error) {
	start := p.i
	end, plain := stringEnd(p.b, start)
	if end < 0 {
		p.i = len(p.b)
		return "", p.syntax()
	}
	p.i = end + 1
	raw := p.b[start+1 : end]
	if plain && utf8.Valid(raw) {
		return string(raw), nil
	}
	var s string
	if err := json.Unmarshal(p.b[start:end+1], &s); err != nil {
		return "", errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	return s, nil
}

// skipValue checks and skips one JSON value of any kind, and reports its kind.
func (p *bodyParser) skipValue() (string, error) {
	dec := json.NewDecoder(strings.NewReader(string(p.b[p.i:])))
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	p.i += int(dec.InputOffset())
	return fmt.Sprintf("%T", v), nil
}

// stringEnd returns the index of the quote that closes the JSON string whose opening quote
// is b[i], or -1 if it is not closed; plain reports whether the string is free of escapes
// and control characters, so that its bytes are its value.
func stringEnd(b []byte, i int) (end int, plain bool) {
	plain = true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			plain = false
			j++
		case c == '"':
			return j, plain
		case c < 0x20:
			plain = false
		}
	}
	return -1, false
}
