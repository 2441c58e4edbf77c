// Package procs starts sesame-engine on one processor: importing it sets
// GOMAXPROCS to 1 in its init, unless the user set GOMAXPROCS in the
// environment, which is kept.
//
// sesame-engine is mostly a one-shot command (SESAME_AGENT=off, or no
// agent can run): one goroutine's calls, one after another, and exit. With
// a processor per core the runtime woke threads that spun looking for work
// and gave each processor its own partly used spans of the heap, pages that
// are faulted in fresh; on one processor from the start, a warm `get` took
// 60 to 140 page faults fewer, of about 1,000 (bench/NOTES.md). Set later, when the command
// knows it runs alone (cli's oneShot), it gained nothing: the threads and
// spans of the runtime's start and the package inits were there already.
// So the package's init runs among the first: it imports only the runtime
// and syscall.
//
// The agent, which serves several clients at once, gives itself the
// runtime's default back (runtime.SetDefaultGOMAXPROCS) as it starts. A
// guest's deadline needs no second processor: a guest returns to Go at its
// fuel checks, where the deadline's timer gets its turn.
package procs

import (
	"runtime"
	"syscall"
)

func init() {
	if _, set := syscall.Getenv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(1)
	}
}
