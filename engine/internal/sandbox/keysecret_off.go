//go:build !goexperiment.runtimesecret

package sandbox

// erased runs f. Built with GOEXPERIMENT=runtimesecret it also erases what
// f left on the stack and the heap (keysecret_on.go).
func erased(f func()) { f() }
