package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
)

// logBuffer collects what a JSON slog handler writes, for several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// records returns the records written so far.
func (l *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// TestClientHangsUp has a client hang up, on a real connection, in the middle of a long
// poll: the request is logged as a cancellation at DEBUG, not as a failure at ERROR, and
// counted with the status 499, not 500.
func TestClientHangsUp(t *testing.T) {
	s := newStack(t, stackConfig{CheckpointInterval: time.Hour})
	var logs logBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	url := serve(t, api.New(api.Config{Service: s.svc, Logger: log}))
	d := randomDigest()
	submit(t, s, d.String()) // pending for an hour: a long poll on it waits its whole wait

	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	// A long poll on a pending digest: held for its whole wait, 60 s, unless the client
	// leaves. The answer can only be the cancellation, whenever the server notices it.
	if _, err := fmt.Fprintf(conn, "GET /v1/timestamps/%s?wait=60 HTTP/1.1\r\nHost: notary.test\r\n\r\n", d); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	route := `route="/v1/timestamps/:digest"`

	// Wait until the request is counted, whatever its status, then check the status.
	var m map[string]float64
	counted := func(code string) float64 {
		return m[`notary_http_request_duration_seconds_count{code="`+code+`",method="GET",`+route+`}`]
	}
	waitUntil(t, "the canceled request in /metrics", func() bool {
		m = parseMetrics(t, doH(t, http.MethodGet, url+"/metrics", nil).body)
		for k, v := range m {
			if strings.HasPrefix(k, "notary_http_request_duration_seconds_count{") && strings.Contains(k, route) && v > 0 {
				return true
			}
		}
		return false
	})
	if counted("499") != 1 || counted("500") != 0 {
		t.Errorf("the canceled request is counted %v times as 499 and %v times as 500; want once as 499", counted("499"), counted("500"))
	}
	canceled := false
	for _, r := range logs.records(t) {
		if r["level"] == slog.LevelError.String() {
			t.Errorf("logged at ERROR: %v", r)
		}
		if r["level"] == slog.LevelDebug.String() && strings.Contains(fmt.Sprint(r["msg"]), "canceled") &&
			r["path"] == "/v1/timestamps/"+d.String() {
			canceled = true
		}
	}
	if !canceled {
		t.Errorf("no DEBUG record of the canceled request in:\n%s", logs.b.String())
	}
}
