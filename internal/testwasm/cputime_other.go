//go:build !unix

package testwasm

import (
	"testing"
	"time"
)

// ReportCPU reports nothing where getrusage is missing (cputime_unix.go).
func ReportCPU(*testing.B) func() { return func() {} }

// CPUTime returns 0 where getrusage is missing.
func CPUTime() time.Duration { return 0 }
