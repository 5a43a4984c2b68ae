package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/notary-dev/notary/api"
	"github.com/notary-dev/notary/internal/strictjson"
	"github.com/notary-dev/notary/merkle"
	"github.com/notary-dev/notary/notary"
)

// logOf fills a stack's log with n new digests and waits for a checkpoint of them all.
func logOf(t *testing.T, s *stack, n int) ([]notary.Digest, notary.Checkpoint) {
	t.Helper()
	ds := make([]notary.Digest, n)
	for i := range ds {
		ds[i] = randomDigest()
	}
	if _, err := s.svc.SubmitEntries(t.Context(), ds); err != nil {
		t.Fatal(err)
	}
	return ds, waitCheckpoint(t, s.svc, s.svc.Size())
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	r := do(t, http.DefaultClient, http.MethodGet, url, "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %.300s", url, r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	if err := strictjson.Decode(r.body, v); err != nil {
		t.Fatalf("GET %s: %v in %.300s", url, err, r.body)
	}
}

func TestEntries(t *testing.T) {
	s := newStack(t, stackConfig{CheckpointInterval: 5 * time.Millisecond})
	ds, _ := logOf(t, s, 20)
	for _, i := range []int{0, 7, 19} {
		var byIndex, byDigest timestampReply
		getJSON(t, fmt.Sprintf("%s/v1/entries/%d", s.url, i), &byIndex)
		getJSON(t, s.url+"/v1/timestamps/"+ds[i].String(), &byDigest)
		if byIndex.Digest != ds[i].String() || byIndex.Index != int64(i) {
			t.Errorf("entry %d: digest %s, index %d", i, byIndex.Digest, byIndex.Index)
		}
		if fmt.Sprint(byIndex) != fmt.Sprint(byDigest) {
			t.Errorf("entry %d by index and by digest differ:\n%+v\n%+v", i, byIndex, byDigest)
		}
		p, err := notary.ParseProof(byIndex.Proof)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := notary.Verify(p, p.OwnKey()); err != nil {
			t.Errorf("entry %d: Verify: %v", i, err)
		}
	}
	tests := []struct {
		name, path string
		status     int
		code       string
	}{
		{"beyond the log", "/v1/entries/20", 404, "not_found"},
		{"far beyond", "/v1/entries/9223372036854775807", 404, "not_found"},
		{"negative", "/v1/entries/-1", 400, "bad_request"},
		{"leading zero", "/v1/entries/07", 400, "bad_request"},
		{"plus sign", "/v1/entries/+7", 400, "bad_request"},
		{"not a number", "/v1/entries/seven", 400, "bad_request"},
		{"too large", "/v1/entries/99999999999999999999", 400, "bad_request"},
		{"bad wait", "/v1/entries/1?wait=61", 400, "bad_request"},
		{"bad since", "/v1/entries/1?wait=1&since=final", 400, "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, do(t, http.DefaultClient, http.MethodGet, s.url+tt.path, "", nil), tt.status, tt.code)
		})
	}
}

func TestInclusionProof(t *testing.T) {
	s := newStack(t, stackConfig{CheckpointInterval: 5 * time.Millisecond})
	_, cp := logOf(t, s, 37)
	for _, q := range [][2]int64{{0, 1}, {0, 37}, {36, 37}, {5, 6}, {12, 20}} {
		index, size := q[0], q[1]
		var v api.InclusionView
		getJSON(t, fmt.Sprintf("%s/v1/proofs/inclusion?index=%d&size=%d", s.url, index, size), &v)
		if v.Index != index || v.Size != size {
			t.Errorf("(%d, %d): answer for (%d, %d)", index, size, v.Index, v.Size)
		}
		e, err := s.db.Entry(t.Context(), index)
		if err != nil {
			t.Fatal(err)
		}
		if v.LeafHash != e.LeafHash() {
			t.Errorf("(%d, %d): leaf hash %v, want %v", index, size, v.LeafHash, e.LeafHash())
		}
		if err := merkle.VerifyInclusion(index, size, v.LeafHash, v.Root, v.Proof); err != nil {
			t.Errorf("(%d, %d): %v", index, size, err)
		}
		if size == cp.Size && v.Root != cp.Root {
			t.Errorf("root %v at the checkpoint's size, the checkpoint says %v", v.Root, cp.Root)
		}
		if v.Proof == nil {
			t.Errorf("(%d, %d): proof is null, want an array", index, size)
		}
	}
	tests := []struct {
		name, query string
	}{
		{"size beyond the checkpoint", fmt.Sprintf("index=0&size=%d", cp.Size+1)},
		{"index = size", "index=5&size=5"},
		{"index > size", "index=9&size=5"},
		{"size 0", "index=0&size=0"},
		{"no index", "size=5"},
		{"no size", "index=1"},
		{"negative index", "index=-1&size=5"},
		{"non-numeric size", "index=1&size=all"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, http.DefaultClient, http.MethodGet, s.url+"/v1/proofs/inclusion?"+tt.query, "", nil)
			if msg := wantError(t, r, 400, "bad_request"); goName.MatchString(msg) || strings.Contains(msg, "notary:") {
				t.Errorf("message %q names the server's internals", msg)
			}
		})
	}
}

func TestConsistencyProof(t *testing.T) {
	s := newStack(t, stackConfig{CheckpointInterval: 5 * time.Millisecond})
	_, first := logOf(t, s, 13)
	_, cp := logOf(t, s, 21)
	for _, q := range [][2]int64{{first.Size, cp.Size}, {1, cp.Size}, {0, cp.Size}, {cp.Size, cp.Size}, {8, 16}, {3, 7}, {0, 0}} {
		old, size := q[0], q[1]
		var v api.ConsistencyView
		getJSON(t, fmt.Sprintf("%s/v1/proofs/consistency?old=%d&new=%d", s.url, old, size), &v)
		if v.Old != old || v.New != size {
			t.Errorf("(%d, %d): answer for (%d, %d)", old, size, v.Old, v.New)
		}
		if err := merkle.VerifyConsistency(old, size, v.OldRoot, v.NewRoot, v.Proof); err != nil {
			t.Errorf("(%d, %d): %v", old, size, err)
		}
		if old == first.Size && v.OldRoot != first.Root {
			t.Errorf("old root %v, the checkpoint of size %d says %v", v.OldRoot, old, first.Root)
		}
		if size == cp.Size && v.NewRoot != cp.Root {
			t.Errorf("new root %v, the checkpoint says %v", v.NewRoot, cp.Root)
		}
	}
	for _, query := range []string{
		fmt.Sprintf("old=1&new=%d", cp.Size+1), "old=5&new=4", "old=1", "new=3", "old=x&new=3", "old=-1&new=3",
	} {
		t.Run(query, func(t *testing.T) {
			wantError(t, do(t, http.DefaultClient, http.MethodGet, s.url+"/v1/proofs/consistency?"+query, "", nil), 400, "bad_request")
		})
	}
}
