//go:build unix

package main

import (
	"syscall"
	"time"
)

// cpuTime is the process's CPU time (user and system, all threads): on a
// machine shared with other work, the wall time of an operation includes
// the waits for a core, and its CPU time does not.
func cpuTime() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
