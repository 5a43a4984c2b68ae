package strictjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/notary-dev/notary/internal/strictjson"
)

type record struct {
	Name  string   `json:"name"`
	N     int64    `json:"n"`
	F     float64  `json:"f"`
	List  []string `json:"list"`
	Inner *struct {
		A string `json:"a"`
	} `json:"inner"`
}

func TestDecode(t *testing.T) {
	for _, tt := range []struct {
		name, data string
		refused    string // a part of the error; "" if accepted
	}{
		{"plain", `{"name":"x","n":1,"f":1.5,"list":["a"],"inner":{"a":"b"}}`, ""},
		{"white space around", " \n{\"name\":\"x\"}\t\n", ""},
		{"a surrogate pair", `{"name":"\ud83d\ude00"}`, ""},
		{"keys in another case", `{"NAME":"x"}`, ""}, // encoding/json's rule; see Decode
		{"0 and -1", `{"n":0,"f":-1}`, ""},
		{"unknown field", `{"name":"x","other":1}`, "unknown field"},
		{"unknown field inside", `{"inner":{"a":"b","c":1}}`, "unknown field"},
		{"key twice", `{"name":"x","name":"y"}`, "appears twice"},
		{"key twice inside", `{"inner":{"a":"b","a":"c"}}`, "appears twice"},
		{"same key in two objects", `{"inner":{"a":"b"},"list":[]}`, ""},
		{"-0", `{"n":-0}`, "-0"},
		{"-0.0", `{"f":-0.0}`, "-0"},
		{"-0e3", `{"f":-0e3}`, "-0"},
		{"trailing value", `{"name":"x"}{}`, "after the JSON value"},
		{"trailing garbage", `{"name":"x"} x`, "after the JSON value"},
		{"invalid UTF-8", "{\"name\":\"\xff\"}", "UTF-8"},
		{"lone high surrogate", `{"name":"\ud800"}`, "lone surrogate"},
		{"lone low surrogate", `{"name":"\udc00x"}`, "lone surrogate"},
		{"high surrogate and a letter", `{"name":"\ud800\u0041"}`, "lone surrogate"},
		{"an escaped backslash before u", `{"name":"\\ud800"}`, ""},
		{"not JSON", `{"name":`, "unexpected EOF"},
		{"empty", ``, "EOF"},
		{"wrong type", `{"n":"1"}`, "cannot unmarshal"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r record
			err := strictjson.Decode([]byte(tt.data), &r)
			switch {
			case tt.refused == "" && err != nil:
				t.Fatalf("Decode(%s): %v", tt.data, err)
			case tt.refused != "" && (err == nil || !strings.Contains(err.Error(), tt.refused)):
				t.Fatalf("Decode(%s) = %v, want an error about %q", tt.data, err, tt.refused)
			}
		})
	}
}

// FuzzDecode cross-checks Decode with encoding/json: what Decode accepts, json.Unmarshal
// accepts with the same result; and what a decoder with unknown fields disallowed takes
// as one value, Decode refuses only for one of its own reasons.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"name":"x","n":1,"f":1.5,"list":["a"],"inner":{"a":"b"}}`,
		`{"name":"x","name":"y"}`, `{"n":-0}`, `{"f":-0.0e1}`, `{"name":"\ud800"}`,
		`{"name":"\ud83d\ude00"}`, `{"NAME":"x"}`, `{"x":1}`, `{} {}`, "{\"name\":\"\xff\"}",
		`{"inner":null,"list":null}`, `[1]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var strict record
		err := strictjson.Decode(data, &strict)
		var loose record
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		looseErr := dec.Decode(&loose)
		if looseErr == nil && dec.More() {
			looseErr = errTrailing
		}
		if err == nil {
			var plain record
			if uerr := json.Unmarshal(data, &plain); uerr != nil || looseErr != nil {
				t.Fatalf("Decode accepts %q, encoding/json refuses it: %v, %v", data, uerr, looseErr)
			}
			if !reflect.DeepEqual(strict, plain) {
				t.Fatalf("Decode(%q) = %+v, json.Unmarshal = %+v", data, strict, plain)
			}
			return
		}
		if looseErr != nil {
			return
		}
		for _, reason := range []string{"UTF-8", "appears twice", "-0", "lone surrogate", "after the JSON value"} {
			if strings.Contains(err.Error(), reason) {
				return
			}
		}
		t.Fatalf("Decode refuses %q (%v), which encoding/json takes, for no reason of its own", data, err)
	})
}

var errTrailing = errors.New("data after the value")
