//go:build !unix

package pgtest

import (
	"os"
	"syscall"
)

func setProcAttr(attr *syscall.SysProcAttr) {}

func setCredential(attr *syscall.SysProcAttr, uid, gid int) {}

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

func killServer(pid int) []int {
	killGroup(pid)
	return nil
}

func running(pid int) bool { return false }

func lockDir(dir string) (func(), error) { return func() {}, nil }

// tryLockDir never succeeds where there are no advisory locks: stale directories
// are not swept.
func tryLockDir(dir string) (func(), bool) { return nil, false }

func removeSharedMemory(data string) {}
