package btcdnode

import "syscall"

// setProcAttr also asks the kernel to kill btcd if the parent dies, so that a
// crashed test or dev stack leaves no node behind.
func setProcAttr(attr *syscall.SysProcAttr) {
	attr.Setpgid = true
	attr.Pdeathsig = syscall.SIGKILL
}
