package pgtest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// setProcAttr puts a server binary in its own process group and asks the kernel to
// kill it if its parent dies, so that a crashed test leaves no server behind (the
// backends follow their postmaster).
func setProcAttr(attr *syscall.SysProcAttr) {
	attr.Setpgid = true
	attr.Pdeathsig = syscall.SIGKILL
}

// killServer sends SIGKILL to the postmaster pid and to every process it has
// forked, and returns their pids. Each backend makes itself a process group
// leader, so killing the postmaster's group is not enough; the postmaster is
// stopped first so that it cannot fork while its children are listed.
func killServer(pid int) []int {
	syscall.Kill(pid, syscall.SIGSTOP)
	pids := append(children(pid), pid)
	for _, p := range pids {
		syscall.Kill(-p, syscall.SIGKILL) // the group of a backend, if it leads one
		syscall.Kill(p, syscall.SIGKILL)
	}
	return pids
}

// running reports whether process pid exists and has not exited. A zombie has
// exited: it holds no memory, and in a container nobody may reap it.
func running(pid int) bool {
	state, _, ok := procStat(strconv.Itoa(pid))
	return ok && state != "Z" && state != "X"
}

// children returns the processes whose parent is pid.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if _, ppid, ok := procStat(e.Name()); ok && ppid == pid {
			if k, err := strconv.Atoi(e.Name()); err == nil {
				kids = append(kids, k)
			}
		}
	}
	return kids
}

// procStat reads the state and the parent of process pid from /proc.
func procStat(pid string) (state string, ppid int, ok bool) {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return "", 0, false
	}
	// pid (comm) state ppid ...; comm may hold anything, so cut at its last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0], ppid, err == nil
}

// removeSharedMemory removes the System V shared memory segment that
// data/postmaster.pid names, which a killed postmaster leaves behind. PostgreSQL
// removes it at its next start in data; a cluster that will not start again would
// leak it, and the system allows only so many. The kernel keeps a segment that is
// still attached until its last process detaches.
func removeSharedMemory(data string) {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 7 {
		return
	}
	f := strings.Fields(lines[6]) // "key shmid"
	if len(f) != 2 {
		return
	}
	id, err := strconv.Atoi(f[1])
	if err != nil || id < 0 {
		return
	}
	const ipcRMID = 0
	syscall.Syscall(syscall.SYS_SHMCTL, uintptr(id), ipcRMID, 0)
}
