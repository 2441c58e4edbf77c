//go:build unix

package testwasm

import (
	"syscall"
	"testing"
	"time"
)

// ReportCPU, deferred as `defer testwasm.ReportCPU(b)()` before a
// benchmark's loop, adds the process's CPU time per operation (user and
// system, all threads) as cpu-ns/op. On a machine shared with other work
// the wall time per operation includes the waits for a core; the CPU time
// does not.
func ReportCPU(b *testing.B) func() {
	start := CPUTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(CPUTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// CPUTime returns the CPU time the process has used (user and system, all
// threads).
func CPUTime() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
