// Package strictjson decodes JSON that must mean one thing: it refuses what encoding/json
// would take silently and change or drop.
//
// It imports only the standard library, so that the verification library (notary) can
// use it.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Decode decodes the one JSON value of data into v, as json.Unmarshal does, and returns an
// error, leaving v in an unspecified state, for any of what encoding/json would accept and
// change or drop:
//
//   - invalid UTF-8, or an escaped lone surrogate (\ud800 alone), which it reads as U+FFFD;
//   - a field that v does not have, which it ignores;
//   - a key twice in one object, of which it keeps the last;
//   - the number -0, which it reads as 0;
//   - anything but white space after the value.
//
// Keys still match v's fields without regard to case, as in encoding/json; a caller that
// needs one spelling compares data with its own re-encoding.
func Decode(data []byte, v any) error {
	if !utf8.Valid(data) {
		return errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	if err := checkTokens(data); err != nil {
		return err
	}
	return checkEscapes(data)
}

// checkTokens reports an object in data, which is one valid JSON value, that has a key
// twice, or the number -0.
func checkTokens(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				key, err := dec.Token()
				if err != nil {
					return err
				}
				k := key.(string)
				if seen[k] {
					return fmt.Errorf("key %q appears twice", k)
				}
				seen[k] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		if n, ok := tok.(json.Number); ok && isMinusZero(string(n)) {
			return errors.New("the number -0, another text for 0")
		}
		return nil
	}
	return walk()
}

// isMinusZero reports whether the JSON number n is a negative zero: -0, -0.0, -0e5…
func isMinusZero(n string) bool {
	if len(n) < 2 || n[0] != '-' {
		return false
	}
	f, err := strconv.ParseFloat(n, 64)
	return err == nil && f == 0
}

// checkEscapes reports a string of data, which is valid JSON, with an escaped surrogate that
// is not half of a pair (\ud800 alone): it stands for no character.
func checkEscapes(data []byte) error {
	inString := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString:
			i++
			if data[i] != 'u' {
				continue
			}
			r, _ := strconv.ParseUint(string(data[i+1:i+5]), 16, 16)
			i += 4
			switch {
			case r >= 0xdc00 && r <= 0xdfff:
				return errors.New("a string holds an escaped lone surrogate")
			case r >= 0xd800 && r <= 0xdbff:
				if i+6 >= len(data) || data[i+1] != '\\' || data[i+2] != 'u' {
					return errors.New("a string holds an escaped lone surrogate")
				}
				low, _ := strconv.ParseUint(string(data[i+3:i+7]), 16, 16)
				if low < 0xdc00 || low > 0xdfff {
					return errors.New("a string holds an escaped lone surrogate")
				}
				i += 6
			}
		}
	}
	return nil
}
