//go:build unix && !linux

package pgtest

import "syscall"

// setProcAttr puts a server binary in its own process group.
func setProcAttr(attr *syscall.SysProcAttr) {
	attr.Setpgid = true
}

// killServer sends SIGKILL to the postmaster pid and its process group. Backends
// in groups of their own follow when they notice their postmaster is gone; a
// launch that finds them still attached to the cluster's memory tries again.
func killServer(pid int) []int {
	syscall.Kill(-pid, syscall.SIGKILL)
	syscall.Kill(pid, syscall.SIGKILL)
	return []int{pid}
}

// running reports whether process pid exists.
func running(pid int) bool { return syscall.Kill(pid, 0) == nil }

// removeSharedMemory leaves a killed server's System V segment alone: PostgreSQL
// removes it when the cluster starts again.
func removeSharedMemory(data string) {}
