package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/notary-dev/notary/notary"
)

// referenceBatch decodes a batch body with encoding/json, strictly: the behaviour
// parseBatchRequest must have.
func referenceBatch(body []byte) (digests []notary.Digest, callback string, ok bool) {
	var req struct {
		Digests  []*string `json:"digests"`
		Callback string    `json:"callback"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, "", false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "", false
	}
	if len(req.Digests) > MaxBatchDigests {
		return nil, "", false
	}
	for _, s := range req.Digests {
		if s == nil {
			return nil, "", false
		}
		d, err := notary.ParseDigest(*s)
		if err != nil {
			return nil, "", false
		}
		digests = append(digests, d)
	}
	return digests, req.Callback, true
}

const testDigestHex = "6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19"

var batchSeeds = []string{
	`{"digests": ["` + testDigestHex + `"]}`,
	`{"digests":["` + testDigestHex + `","` + strings.ToUpper(testDigestHex) + `"],"callback":"https://example.com/x"}`,
	` { "DIGESTS" : [ "` + testDigestHex + `" ] , "Callback" : null } `,
	`{"digests": ["\u0036` + testDigestHex[1:] + `"]}`,
	`{"digests": [], "digests": ["` + testDigestHex + `"]}`,
	`{"digests": null}`,
	`{"callback": "h\u00e9", "digests": ["` + testDigestHex + `"]}`,
	`{"digests": ["` + testDigestHex + `"],}`,
	`{"digests": ["` + testDigestHex + `"]`,
	`{"digests": [1, "x"]}`,
	`{"digests": [{"a": [1, 2]}]}`,
	`{"digests": "x"}`,
	`{"digests": ["` + testDigestHex + "\x01" + `"]}`,
	`{"callback": "\ud800", "digests": ["` + testDigestHex + `"]}`,
	"{\"callback\": \"\xff\", \"digests\": [\"" + testDigestHex + "\"]}",
	`[]`, `""`, `null`, `{} {}`, `{}x`, ``, ` `, `{`, `{"a"}`, `{"digests" ["x"]}`,
	`{"digeſts": ["` + testDigestHex + `"]}`,
	`{"digests": [null]}`,
	`{"digests": [tru]}`,
}

// FuzzParseBatchRequest checks that the fast parser accepts exactly what encoding/json
// accepts, with the same result.
func FuzzParseBatchRequest(f *testing.F) {
	for _, s := range batchSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseBatchRequest(body)
		want, callback, ok := referenceBatch(body)
		if (err == nil) != ok {
			t.Fatalf("body %q: parseBatchRequest error %v, encoding/json accepts: %v", body, err, ok)
		}
		if err != nil {
			var apiErr *Error
			if !errors.As(err, &apiErr) || apiErr.Status != 400 {
				t.Fatalf("body %q: error %v is not a 400 API error", body, err)
			}
			return
		}
		if req.Callback != callback || len(req.Digests) != len(want) {
			t.Fatalf("body %q: got %d digests, callback %q; want %d, %q", body, len(req.Digests), req.Callback, len(want), callback)
		}
		for i := range want {
			if req.Digests[i] != want[i] {
				t.Fatalf("body %q: digest %d is %v, want %v", body, i, req.Digests[i], want[i])
			}
		}
	})
}

// referenceSubmit decodes a single submission's body with encoding/json, strictly: the
// behaviour parseSubmitRequest must have.
func referenceSubmit(body []byte) (submitRequest, bool) {
	var req submitRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return submitRequest{}, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return submitRequest{}, false
	}
	return req, true
}

// FuzzParseSubmitRequest checks that the fast parser accepts exactly what encoding/json
// accepts, with the same result.
func FuzzParseSubmitRequest(f *testing.F) {
	for _, s := range []string{
		`{"digest":"` + testDigestHex + `"}`,
		`{"digest": "` + testDigestHex + `", "callback": "https://example.com/x"}`,
		` { "DIGEST" : "\u0036` + testDigestHex[1:] + `" , "Callback" : null } `,
		`{"digest": "a", "digest": "b"}`,
		`{"digest": null}`, `{"digest": 1}`, `{"digest": ["x"]}`, `{"digest": {"a": [1]}}`,
		`{"digests": ["` + testDigestHex + `"]}`, `{"digeſt": "x"}`,
		"{\"digest\": \"\xff\"}", `{"digest": "\ud800"}`, `{"digest": "a\nb"}`,
		`[]`, `""`, `null`, `null x`, `{} {}`, `{}x`, ``, ` `, `{`, `{"a"}`, `{"digest" "x"}`, `{"digest": tru}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseSubmitRequest(body)
		want, ok := referenceSubmit(body)
		if (err == nil) != ok {
			t.Fatalf("body %q: parseSubmitRequest error %v, encoding/json accepts: %v", body, err, ok)
		}
		if err != nil {
			var apiErr *Error
			if !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Code != codeBadJSON {
				t.Fatalf("body %q: error %v is not a 400 bad_json API error", body, err)
			}
			return
		}
		if req != want {
			t.Fatalf("body %q: got %+v, want %+v", body, req, want)
		}
	})
}

func TestParseBatchRequestCodes(t *testing.T) {
	many := `{"digests": [` + strings.Repeat(`"`+testDigestHex+`",`, MaxBatchDigests) + `"` + testDigestHex + `"]}`
	tests := []struct {
		name, body, code string
	}{
		{"bad digest", `{"digests": ["` + testDigestHex + `", "zz"]}`, codeBadDigest},
		{"null digest", `{"digests": [null]}`, codeBadDigest},
		{"too many", many, codeTooManyDigests},
		{"syntax", `{"digests": [`, codeBadJSON},
		{"type", `{"digests": [1]}`, codeBadJSON},
		{"unknown field", `{"x": 1}`, codeBadJSON},
		{"trailing", `{} 1`, codeBadJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseBatchRequest([]byte(tt.body))
			var apiErr *Error
			if !errors.As(err, &apiErr) || apiErr.Code != tt.code {
				t.Errorf("error %v, want code %s", err, tt.code)
			}
		})
	}
}

func BenchmarkParseBatchRequest(b *testing.B) {
	body := []byte(`{"digests": [` + strings.Repeat(`"`+testDigestHex+`",`, MaxBatchDigests-1) + `"` + testDigestHex + `"]}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := parseBatchRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}
