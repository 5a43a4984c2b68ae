package pgtest

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// dirPrefix starts the name of every server directory in os.TempDir().
const dirPrefix = "pgtest-"

// makeDir makes a new server directory, locked while this process lives and owned
// by runAs.
func makeDir(runAs *account) (string, func(), error) {
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return "", nil, fmt.Errorf("pgtest: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("pgtest: lock %s: %w", dir, err)
	}
	if runAs != nil {
		if err := os.Chown(dir, runAs.uid, runAs.gid); err != nil {
			unlock()
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	return dir, unlock, nil
}

// sweepStaleDirs removes the server directories that processes which died without
// stopping their servers left in os.TempDir(): those no live process holds the
// lock of. Directories younger than a minute are left alone, as their creator may
// not have locked them yet.
func sweepStaleDirs(logger *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < time.Minute {
			continue
		}
		if postmasterAlive(filepath.Join(dir, "data")) {
			continue
		}
		unlock, ok := tryLockDir(dir)
		if !ok {
			continue
		}
		removeSharedMemory(filepath.Join(dir, "data"))
		err = os.RemoveAll(dir)
		unlock()
		if logger != nil {
			logger.Info("removed the directory of a server whose test process died", "dir", dir, "err", err)
		}
	}
}

// postmasterAlive reports whether the process in data/postmaster.pid exists.
func postmasterAlive(data string) bool {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}
