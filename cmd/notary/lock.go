//go:build cgo

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDataDir creates the data directory if need be and takes an exclusive lock on it, so
// that two services never sequence the same log. The lock goes when the process ends;
// release drops it earlier.
func lockDataDir(dir string) (release func(), err error) {
	if err := ensureDataDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, usageError("locking the data directory: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, &cliError{code: exitUsage,
			err:  fmt.Errorf("another notary is already running on %s", dir),
			hint: "stop it first, or give this one its own --data directory"}
	}
	return func() { f.Close() }, nil
}
