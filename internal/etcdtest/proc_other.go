//go:build unix && !linux

package etcdtest

import "syscall"

// processGroup puts a member in a process group of its own, which the
// harness kills whole. (Only Linux kills it when the test process dies
// first.)
func processGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
