package pgtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// EnvBinDir names the environment variable that overrides the directory of the
// server binaries.
const EnvBinDir = "NOTARY_PG_BIN"

// debianBinDirs matches the server binaries of every PostgreSQL version Debian's
// packages install.
const debianBinDirs = "/usr/lib/postgresql/*/bin"

// installHint says how to get the server binaries.
const installHint = "run internal/pgtest/install.sh as root (it installs Debian's package postgresql), " +
	"or set $" + EnvBinDir + " to a directory holding initdb, postgres and pg_basebackup (PostgreSQL 13 or later)"

// tools are the binaries a Server runs.
var tools = []string{"initdb", "postgres", "pg_basebackup"}

// FindBinDir returns the directory of the PostgreSQL server binaries: $NOTARY_PG_BIN
// if set, else the newest version's of /usr/lib/postgresql/*/bin. Its error says how
// to install them.
func FindBinDir() (string, error) {
	if dir := os.Getenv(EnvBinDir); dir != "" {
		if err := checkBinDir(dir); err != nil {
			return "", fmt.Errorf("%w (from $%s)", err, EnvBinDir)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob(debianBinDirs)
	best, bestVersion := "", -1
	for _, dir := range dirs {
		if checkBinDir(dir) != nil {
			continue
		}
		if v := majorVersion(filepath.Base(filepath.Dir(dir))); v > bestVersion {
			best, bestVersion = dir, v
		}
	}
	if best == "" {
		return "", fmt.Errorf("pgtest: no PostgreSQL server binaries in %s: %s", debianBinDirs, installHint)
	}
	return best, nil
}

// checkBinDir reports whether dir holds every tool a Server runs.
func checkBinDir(dir string) error {
	for _, tool := range tools {
		fi, err := os.Stat(filepath.Join(dir, tool))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("pgtest: no executable %s in %s: %s", tool, dir, installHint)
		}
	}
	return nil
}

// majorVersion orders Debian's version directories: "15" → 1500, "9.6" → 906.
func majorVersion(name string) int {
	major, minor, _ := strings.Cut(name, ".")
	m, err := strconv.Atoi(major)
	if err != nil {
		return -1
	}
	n, _ := strconv.Atoi(minor)
	return m*100 + n
}
