package web

import (
	"bytes"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestOfflinePage requires the offline verify page to need nothing beyond itself: no
// reference to another file, and a policy that allows no request; and to be among the
// pages, as a file the file server serves.
func TestOfflinePage(t *testing.T) {
	page, err := OfflineVerifyPage()
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range regexp.MustCompile(`(?:src|href)="([^"#]*)"`).FindAllStringSubmatch(string(page), -1) {
		if !strings.HasPrefix(ref[1], "data:") && ref[1] != "" {
			t.Errorf("the offline page refers to %q, which is not in it", ref[1])
		}
	}
	for _, s := range []string{"connect-src 'none'", "default-src 'none'", "<nav", `href="lookup.html`, "<!-- offline", "served -->"} {
		if bytes.Contains(page, []byte(s)) != strings.HasSuffix(s, "'none'") {
			t.Errorf("the offline page has %q: %v", s, bytes.Contains(page, []byte(s)))
		}
	}
	listed := false
	err = fs.WalkDir(Pages(), ".", func(path string, d fs.DirEntry, err error) error {
		listed = listed || path == OfflinePageName
		return err
	})
	if err != nil || !listed {
		t.Errorf("walking the pages: %v; %s listed: %v", err, OfflinePageName, listed)
	}
	rec := httptest.NewRecorder()
	http.FileServerFS(Pages()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+OfflinePageName, nil))
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), page) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Errorf("GET /%s: %d, %s, %d bytes; want 200, text/html, the page", OfflinePageName, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
	}
}
