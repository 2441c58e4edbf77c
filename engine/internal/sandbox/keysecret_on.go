//go:build goexperiment.runtimesecret

package sandbox

import "runtime/secret"

// erased runs f, which handles key bytes, under runtime/secret.Do (Go 1.26,
// GOEXPERIMENT=runtimesecret, linux/amd64 and arm64): the registers and
// stack it used are erased when it returns, and its heap allocations when
// the collector frees them — the copies that library code makes and this
// package cannot reach (SECURITY.md, "Where keys live").
func erased(f func()) { secret.Do(f) }
