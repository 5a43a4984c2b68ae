package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestE2EAPIErrors sends the requests clients get wrong to a running stack and checks the
// status and the JSON error body of each answer.
func TestE2EAPIErrors(t *testing.T) {
	t.Parallel()
	c := startChain(t)
	s := startStack(t, c, stackOptions{})
	known := randomDigest(t)
	mustSubmit(t, s.url, known)

	hexDigest := randomDigest(t).String()
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		status      int
		code        string // the error code in the body; "" for a success
	}{
		{"unknown digest", "GET", "/v1/timestamps/" + hexDigest, "", "", http.StatusNotFound, "not_found"},
		{"lookup not hex", "GET", "/v1/timestamps/nothex", "", "", http.StatusBadRequest, "bad_digest"},
		{"lookup short", "GET", "/v1/timestamps/" + hexDigest[:62], "", "", http.StatusBadRequest, "bad_digest"},
		{"lookup upper case", "GET", "/v1/timestamps/" + strings.ToUpper(known.String()), "", "", http.StatusOK, ""},
		{"submit not JSON type", "POST", "/v1/timestamps", "text/plain", `{"digest":"` + hexDigest + `"}`, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"submit JSON charset", "POST", "/v1/timestamps", "application/json; charset=utf-8", `{"digest":"` + hexDigest + `"}`, http.StatusOK, ""},
		{"submit bad digest", "POST", "/v1/timestamps", "application/json", `{"digest":"zz"}`, http.StatusBadRequest, "bad_digest"},
		{"submit no digest", "POST", "/v1/timestamps", "application/json", `{}`, http.StatusBadRequest, "bad_digest"},
		{"submit unknown field", "POST", "/v1/timestamps", "application/json", `{"digest":"` + hexDigest + `","document":"x"}`, http.StatusBadRequest, "bad_json"},
		{"submit two objects", "POST", "/v1/timestamps", "application/json", `{"digest":"` + hexDigest + `"}{}`, http.StatusBadRequest, "bad_json"},
		{"submit empty", "POST", "/v1/timestamps", "application/json", ``, http.StatusBadRequest, "bad_json"},
		{"submit too large", "POST", "/v1/timestamps", "application/json", `{"digest":"` + strings.Repeat("a", 70<<10) + `"}`, http.StatusRequestEntityTooLarge, "body_too_large"},
		{"wrong method", "DELETE", "/v1/timestamps/" + hexDigest, "", "", http.StatusMethodNotAllowed, "method_not_allowed"},
		{"no such endpoint", "GET", "/v1/nothing", "", "", http.StatusNotFound, "not_found"},
		{"no such endpoint POST", "POST", "/v1/nothing", "application/json", "{}", http.StatusNotFound, "not_found"},
		{"no such page", "GET", "/nothing.html", "", "", http.StatusNotFound, ""},
		{"checkpoint", "GET", "/v1/checkpoint", "", "", http.StatusOK, ""},
		{"web page", "GET", "/", "", "", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, s.url+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s %s: %s, want %d: %s", tt.method, tt.path, resp.Status, tt.status, raw)
			}
			if tt.code == "" {
				return
			}
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code != tt.code || e.Error.Message == "" {
				t.Errorf("%s %s: body %s; want a JSON error with code %q and a message", tt.method, tt.path, raw, tt.code)
			}
		})
	}
}
