package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/notary-dev/notary/api"
)

// TestStarting checks what a process answers while it opens the log: alive, not ready,
// and every other request refused at once with a code and Retry-After.
func TestStarting(t *testing.T) {
	srv := httptest.NewServer(api.Starting())
	defer srv.Close()
	tests := []struct {
		method, path string
		status       int
		field, want  string
	}{
		{"GET", "/healthz", 200, "status", "starting"},
		{"GET", "/readyz", 503, "starting", "true"},
		{"POST", "/v1/timestamps", 503, "code", "starting"},
		{"GET", "/v1/timestamps/00", 503, "code", "starting"},
		{"GET", "/", 503, "code", "starting"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if e, ok := body["error"].(map[string]any); ok {
				body = e
			}
			if resp.StatusCode != tt.status || jsonText(body[tt.field]) != tt.want {
				t.Errorf("%d %v, want %d with %s %s", resp.StatusCode, body, tt.status, tt.field, tt.want)
			}
			if tt.status == 503 && tt.field == "code" && resp.Header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q, want 1", resp.Header.Get("Retry-After"))
			}
		})
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	if s, ok := v.(string); ok {
		return s
	}
	return string(b)
}
