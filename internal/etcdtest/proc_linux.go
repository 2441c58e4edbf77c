package etcdtest

import "syscall"

// processGroup puts a member in a process group of its own, which the
// harness kills whole, and has the kernel kill it if the test process dies
// first (a test binary killed by its timeout runs no Cleanup).
func processGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
