//go:build !unix

package testwasm

import "testing"

// ReportCPU reports nothing where getrusage is missing (cputime_unix.go).
func ReportCPU(*testing.B) func() { return func() {} }
