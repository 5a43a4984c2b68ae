// Package web holds notary's web pages. They are embedded in the binary and need no build
// step and no network beyond the notary itself: files are hashed in the browser and never sent.
package web

import (
	"bytes"
	"embed"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"
)

//go:embed static
var static embed.FS

// OfflinePageName is the name, among the pages, of the verify page made for use offline:
// one file with everything it needs inlined, which checks proofs opened from disk with no
// network (see OfflineVerifyPage).
const OfflinePageName = "verify-offline.html"

// Pages returns the pages to serve at the site's root: the embedded ones, and the offline
// verify page made from them.
func Pages() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	return pages{sub}
}

// OfflineVerifyPage returns the verify page as one self-contained file: its stylesheet,
// icon and scripts inlined, under a Content-Security-Policy that lets it load and send
// nothing. It is made once, from the embedded pages.
func OfflineVerifyPage() ([]byte, error) { return offlinePage() }

var offlinePage = sync.OnceValues(func() ([]byte, error) {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	return buildOfflinePage(sub)
})

// pages is the embedded pages with the offline verify page beside them.
type pages struct{ fs.FS }

func (p pages) Open(name string) (fs.File, error) {
	if name != OfflinePageName {
		return p.FS.Open(name)
	}
	page, err := offlinePage()
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &memFile{Reader: bytes.NewReader(page), info: memInfo{name: name, size: int64(len(page))}}, nil
}

func (p pages) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(p.FS, name)
	if err != nil || name != "." {
		return entries, err
	}
	info, err := fs.Stat(p, OfflinePageName)
	if err != nil {
		return nil, err
	}
	entries = append(entries, fs.FileInfoToDirEntry(info))
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// memFile is a file held in memory; it can seek, as the file server needs.
type memFile struct {
	*bytes.Reader
	info memInfo
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Close() error               { return nil }

type memInfo struct {
	name string
	size int64
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
