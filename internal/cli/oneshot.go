package cli

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
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

// interpretRuns is how many one-shot commands interpret the extensions,
// while the compile cache is empty, before one compiles them and fills it.
const interpretRuns = 4

// interpretNow reports whether a one-shot command that makes one small call
// into a vault (a get, a set) should run the extensions in wazero's
// interpreter (api.Options.Interpret) instead of compiling them into the
// compile cache in cacheDir. It says yes while that cache holds no compiled
// module, for interpretRuns commands, which it counts in cacheDir (one byte
// appended to a file each); then no, and that command compiles and fills the
// cache as every command does once it is warm (or, if the cache cannot be
// written, compiles in memory, as every command did before).
//
// Why (RATIONALE.md, "A thin client"): for the builtin secretstore, a
// one-shot get that interprets uses about 12 ms of CPU more than one that
// loads the module from a warm cache (the interpreter's code for the whole
// module, about 2.7 MB, is fresh memory to fault in), and about 40 ms less
// than one that compiles it and writes the cache. So a command interprets
// while the cache is empty, and the compile is paid once the interpreting
// has cost about as much: a cache that is kept is warm from the fifth
// command, one that is thrown away after each job (CI) is never filled.
// Large operations (info, import over many secrets) always compile: their
// guest work, several times slower interpreted, would outweigh the compile.
func interpretNow(cacheDir string) bool {
	if cacheDir == "" || hasFile(filepath.Join(cacheDir, "wazero")) {
		return false
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return true // no cache to fill
	}
	// O_NOFOLLOW: a link planted in the cache folder does not get a byte
	// appended to what it points at.
	f, err := os.OpenFile(filepath.Join(cacheDir, "interpreted"), os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return true
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() >= interpretRuns {
		return false // counted no further: a cache that stays empty must not grow the file
	}
	f.Write([]byte{'.'}) // an error counts nothing: the command interprets all the same
	return true
}
