// Package migrations reads the numbered schema migrations that each store embeds:
// migrations/NNNN_name.sql, numbered from 0001 without gaps. Migration n brings a
// database from version n-1 to version n; once released, a migration is never edited.
package migrations

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string // the file's name
	SQL     string
}

// Load reads migrations/*.sql from fsys, in order, and checks their names and numbering.
func Load(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("migrations: %v", err)
	}
	slices.Sort(names)
	ms := make([]Migration, 0, len(names))
	for i, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", base)
		}
		if v != i+1 {
			return nil, fmt.Errorf("migration %s: want number %04d (numbers run from 0001 without gaps)", base, i+1)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %v", base, err)
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(b)})
	}
	if len(ms) == 0 {
		return nil, errors.New("no migrations")
	}
	return ms, nil
}
