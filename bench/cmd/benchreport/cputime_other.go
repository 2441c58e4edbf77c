//go:build !unix

package main

import "time"

// cpuTime is 0 where getrusage is missing (cputime_unix.go).
func cpuTime() time.Duration { return 0 }

// childrenCPUTime is 0 where getrusage is missing (cputime_unix.go).
func childrenCPUTime() time.Duration { return 0 }
