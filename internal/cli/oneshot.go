package cli

import (
	"os"
	"runtime/debug"
)

// oneShotMemoryLimit is the heap at which a one-shot command collects
// garbage (see oneShot). It is a backstop, not a cap: past it the collector
// runs as usual. A command holds one instance of each vault it touches, whose
// linear memory is in the Go heap (64 MiB by default, abi.DefaultMemory), and
// garbage from its start and a compile; a vault granted more memory than
// this, and using it, makes the command collect often, never fail.
const oneShotMemoryLimit = 256 << 20

// oneShot tunes the Go runtime for a command that runs the engine in its own
// process (SESAME_AGENT=off, or the agent cannot run) and then exits: the
// collector is off, as what a command allocates is freed by its exit, and the
// memory limit turns it back on if the heap grows past oneShotMemoryLimit.
// The agent, which lives long, never calls it. A GOGC or GOMEMLIMIT set in
// the environment is the user's choice, and kept.
func oneShot() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(-1)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(oneShotMemoryLimit)
	}
}
