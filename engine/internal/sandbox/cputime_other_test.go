//go:build !unix

package sandbox_test

import "testing"

// reportCPU reports nothing where getrusage is missing (cputime_unix_test.go).
func reportCPU(*testing.B) func() { return func() {} }
