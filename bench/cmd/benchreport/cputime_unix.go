//go:build unix

package main

import (
	"syscall"
	"time"
)

// cpuTime is the process's CPU time (user and system, all threads): on a
// machine shared with other work, the wall time of an operation includes
// the waits for a core, and its CPU time does not.
func cpuTime() time.Duration { return rusage(syscall.RUSAGE_SELF) }

// childrenCPUTime is the CPU time of the process's children that ended
// and were waited for: its growth over one command is that command's.
func childrenCPUTime() time.Duration { return rusage(syscall.RUSAGE_CHILDREN) }

func rusage(who int) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(who, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
