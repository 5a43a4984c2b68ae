//go:build unix

package pgtest

import (
	"os"
	"syscall"
)

// setCredential makes a server binary run as uid:gid, without supplementary groups.
func setCredential(attr *syscall.SysProcAttr, uid, gid int) {
	attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// killGroup sends SIGKILL to every process of process group pgid.
func killGroup(pgid int) { syscall.Kill(-pgid, syscall.SIGKILL) }

// lockDir takes an exclusive advisory lock on directory dir, held until the
// returned function is called or this process exits.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// tryLockDir takes the lock of lockDir if no one holds it.
func tryLockDir(dir string) (func(), bool) {
	unlock, err := lockDir(dir)
	return unlock, err == nil
}
