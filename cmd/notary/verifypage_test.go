package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notary-dev/notary/web"
)

// TestVerifyPageCommand checks that notary verify-page writes the self-contained verify page
// (web.OfflineVerifyPage) to a file or to stdout, and refuses anything else with exit 2.
// TestBrowserOfflinePage opens what it writes, from disk and offline.
func TestVerifyPageCommand(t *testing.T) {
	t.Parallel()
	want, err := web.OfflineVerifyPage()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "notary-verify.html")
	_, stderr := wantCLI(t, exitOK, "verify-page", path)
	if got := mustRead(t, path); !bytes.Equal(got, want) {
		t.Errorf("notary verify-page wrote %d bytes, not the %d of the offline verify page", len(got), len(want))
	}
	if !strings.Contains(stderr, path) {
		t.Errorf("notary verify-page does not say where it wrote the page:\n%s", stderr)
	}
	if stdout, _ := wantCLI(t, exitOK, "verify-page", "-"); stdout != string(want) {
		t.Errorf("notary verify-page - wrote %d bytes to stdout, not the %d of the offline verify page", len(stdout), len(want))
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"verify-page"}, "verify-page takes one file name"},
		{[]string{"verify-page", "a.html", "b.html"}, "verify-page takes one file name"},
		{[]string{"verify-page", filepath.Join(dir, "no", "such", "dir", "p.html")}, "no such file or directory"},
	} {
		code, stdout, stderr := cli(t, tc.args...)
		if code != exitUsage || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("notary %s: exit %d, stdout %q, stderr:\n%s\nwant exit %d and %q", strings.Join(tc.args, " "), code, stdout, stderr, exitUsage, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "no")); err == nil {
		t.Error("notary verify-page made directories it was not asked for")
	}
}
