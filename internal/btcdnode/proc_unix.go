//go:build unix && !linux

package btcdnode

import "syscall"

func setProcAttr(attr *syscall.SysProcAttr) {
	attr.Setpgid = true
}
