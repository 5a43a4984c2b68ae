//go:build !unix

package btcdnode

import "syscall"

func setProcAttr(attr *syscall.SysProcAttr) {}
