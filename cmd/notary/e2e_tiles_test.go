package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notary-dev/notary/internal/tilestest"
	"github.com/notary-dev/notary/notary"
	"github.com/notary-dev/notary/tiles"
)

// submitBatch submits n fresh digests in one batch and returns them, in the order of
// their entries.
func submitBatch(t *testing.T, base string, n int) []notary.Digest {
	t.Helper()
	digests := make([]notary.Digest, n)
	hexes := make([]string, n)
	for i := range digests {
		digests[i] = randomDigest(t)
		hexes[i] = digests[i].String()
	}
	body, _ := json.Marshal(map[string]any{"digests": hexes})
	resp, err := httpClient.Post(base+"/v1/timestamps/batch", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		Receipts []struct {
			Digest string `json:"digest"`
			Index  int64  `json:"index"`
		} `json:"receipts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != http.StatusOK || len(answer.Receipts) != n {
		t.Fatalf("POST /v1/timestamps/batch: %s, %d receipts, %v", resp.Status, len(answer.Receipts), err)
	}
	for i := 1; i < n; i++ {
		if answer.Receipts[i].Index != answer.Receipts[0].Index+int64(i) {
			t.Fatalf("the batch's entries are not consecutive: %+v", answer.Receipts[:i+1])
		}
	}
	return digests
}

// bundleEntries reads the entries of the log through its entry bundles.
func bundleEntries(t *testing.T, prefix string, size int64) [][]byte {
	t.Helper()
	var out [][]byte
	for _, tl := range tiles.For(0, size, true) {
		if tl.Level != tiles.EntriesLevel {
			continue
		}
		b, status, err := tilestest.Get(httpClient, prefix+"/"+tl.Path())
		if err != nil || status != http.StatusOK {
			t.Fatalf("GET %s: %d, %v", tl.Path(), status, err)
		}
		entries, err := tiles.SplitBundle(b)
		if err != nil || len(entries) != tl.Width {
			t.Fatalf("%s: %d entries, %v", tl.Path(), len(entries), err)
		}
		out = append(out, entries...)
	}
	return out
}

// sameAsServed checks that every file in dir is what the server serves at the same path
// under /log, byte for byte, and returns their paths.
func sameAsServed(t *testing.T, dir, prefix string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if rel == ".lock" {
			return nil
		}
		if strings.HasPrefix(filepath.Base(rel), ".") {
			return fmt.Errorf("a temporary file is left: %s", rel)
		}
		paths = append(paths, rel)
		local, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		served, status, err := tilestest.Get(httpClient, prefix+"/"+rel)
		if err != nil || status != http.StatusOK || !bytes.Equal(local, served) {
			return fmt.Errorf("%s: the export differs from what is served (status %d, %v)", rel, status, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// TestTilesServedAndExported runs a real notary on each store and has the sumdb's tlog
// reader recompute the root and prove every entry from the tiles served over HTTP; then
// notary tiles export writes the same files, byte for byte, incrementally.
func TestTilesServedAndExported(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			c := startChain(t)
			db := st.db(t)
			r := startStack(t, c, stackOptions{db: db, tilesEntries: true})
			prefix := r.url + "/log"
			dbArgs := []string{"--data", c.data}
			if db != "" {
				dbArgs = append(dbArgs, "--db", db)
			}
			vkey := r.logKey(t)

			digests := submitBatch(t, r.url, 600)
			waitCheckpoint(t, r.url, 600)
			entries := bundleEntries(t, prefix, 600)
			for i, e := range entries {
				if !bytes.Equal(e[1:33], digests[i][:]) {
					t.Fatalf("entry %d of the bundles has digest %x, want %s", i, e[1:33], digests[i])
				}
			}
			if tree := tilestest.CheckLog(t, prefix, vkey, entries); tree.N != 600 {
				t.Fatalf("checkpoint of size %d, want 600", tree.N)
			}
			tilestest.CheckPartials(t, prefix, 600)

			dir := t.TempDir()
			args := append(append([]string{"tiles", "export"}, dbArgs...), "--entries", dir)
			out, _ := wantCLI(t, exitOK, args...)
			if !strings.Contains(out, "checkpoint of size 600") {
				t.Errorf("export says %q", out)
			}
			first := sameAsServed(t, dir, prefix)
			// 3 level-0 tiles (2 full), a partial level-1 tile, 3 bundles, the checkpoint.
			if len(first) != 1+4+3 {
				t.Errorf("the export of size 600 has %d files: %v", len(first), first)
			}

			if db != "" {
				// A second process on the database follows the log: it serves the same
				// tiles, byte for byte.
				data := t.TempDir()
				for _, key := range []string{"log.key", "bitcoin.key", "webhook.key"} {
					b, err := os.ReadFile(filepath.Join(c.data, key))
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(data, key), b, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				f := startStack(t, &chain{node: c.node, data: data}, stackOptions{db: db, tilesEntries: true})
				waitCheckpoint(t, f.url, 600)
				if got := sameAsServed(t, dir, f.url+"/log"); len(got) != len(first) {
					t.Errorf("the follower serves %d of the %d files", len(got), len(first))
				}
				f.stop(t)
			}

			// The log grows: the next export writes only what is new, and drops the
			// partial tiles that full ones replace.
			digests = append(digests, submitBatch(t, r.url, 200)...)
			waitCheckpoint(t, r.url, 800)
			out, _ = wantCLI(t, exitOK, args...)
			// tile/0/002 (full), tile/0/003.p/32, tile/1/000.p/3, and their bundles.
			if !strings.Contains(out, "wrote 5 tiles and the checkpoint of size 800") {
				t.Errorf("the second export says %q", out)
			}
			second := sameAsServed(t, dir, prefix)
			for _, p := range second {
				if strings.HasPrefix(p, "tile/0/002.p/") || strings.HasPrefix(p, "tile/entries/002.p/") {
					t.Errorf("%s is left beside its full tile", p)
				}
			}
			if !hasFile(second, "tile/1/000.p/2") || !hasFile(second, "tile/0/003.p/32") {
				t.Errorf("the export lacks an older partial tile or the new one: %v", second)
			}
			// A static server of the directory is a mirror of the log.
			mirror := httptest.NewServer(http.FileServer(http.Dir(dir)))
			defer mirror.Close()
			if tree := tilestest.CheckLog(t, mirror.URL, vkey, entries); tree.N != 800 {
				t.Errorf("the mirror's checkpoint has size %d, want 800", tree.N)
			}
			out, _ = wantCLI(t, exitOK, args...)
			if !strings.Contains(out, "up to date at size 800") {
				t.Errorf("the third export says %q", out)
			}
		})
	}
}

func hasFile(paths []string, p string) bool {
	for _, q := range paths {
		if q == p {
			return true
		}
	}
	return false
}

// TestTilesExportRefusesFork exports one of two logs forked under one key, then tries to
// export the other into the same directory: refused, exit 1, the directory unchanged; and
// a directory of another log's key is refused too.
func TestTilesExportRefusesFork(t *testing.T) {
	a, b, dataA, dataB := forkedLogs(t)
	submitBatch(t, a.url, 5)
	waitCheckpoint(t, a.url, 5)
	submitBatch(t, b.url, 9)
	waitCheckpoint(t, b.url, 9)
	dir := t.TempDir()
	wantCLI(t, exitOK, "tiles", "export", "--data", dataA, dir)
	before, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	_, stderr := wantCLI(t, exitInvalid, "tiles", "export", "--data", dataB, dir)
	if !strings.Contains(errLine(stderr), "the two histories differ") {
		t.Errorf("export of the other history: %q", stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "checkpoint")); !bytes.Equal(after, before) {
		t.Error("the refused export changed the checkpoint")
	}
	other := startChain(t)
	startStack(t, other, stackOptions{}).stop(t)
	wantCLI(t, exitUsage, "tiles", "export", "--data", other.data, dir)

	// One export at a time into a directory.
	release, err := lockExportDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, stderr = wantCLI(t, exitUsage, "tiles", "export", "--data", dataA, dir)
	if !strings.Contains(errLine(stderr), "another export is writing") {
		t.Errorf("an export while another runs: %q", stderr)
	}
	release()
	wantCLI(t, exitOK, "tiles", "export", "--data", dataA, dir)
}
