// Package web holds notary's web pages. They are embedded in the binary and need no build
// step and no network beyond the notary itself: files are hashed in the browser and never sent.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Pages returns the pages to serve at the site's root.
func Pages() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	return sub
}
