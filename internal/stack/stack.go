package stack

func init() { Reserve() }

// Reserve grows the calling goroutine's stack to at least reserveBytes at
// once, if it is smaller. Call it first thing in a goroutine whose calls
// are deep (the engine's, the agent's codec).
//
//go:noinline
func Reserve() {
	var frame [reserveBytes - 4<<10]byte // room for the caller's frames and the runtime's guard
	use(frame[:])
}

// reserveBytes is the stack a command's goroutines reach: with a frame
// this size, the profiles above lost the copies of the main goroutine's
// stack (12 KB measured the same as 24 and 60).
const reserveBytes = 16 << 10

// ReserveEngine grows the calling goroutine's stack to at least
// engineBytes at once, as Reserve does to reserveBytes: for the goroutine
// that runs the engine in its own process (sesame-engine's main), whose
// calls go deeper than a command's through the agent. Call it first thing.
//
//go:noinline
func ReserveEngine() {
	var frame [engineBytes - 4<<10]byte
	use(frame[:])
}

// engineBytes is the stack a one-shot command's main goroutine reaches in
// sesame-engine. A warm `SESAME_AGENT=off sesame get` with reserveBytes
// still grew it by copies (runtime.morestack 4.1 % of its CPU samples,
// copystack 3.1 %: each copy walks the frames through the function tables,
// pages of the binary that are faulted in for it); with 32 KB, 1.6 % and
// 0.6 %, and 64 or 128 KB no better (perf record of 40 gets each).
const engineBytes = 32 << 10

// use keeps the frame: a frame that nothing reads is removed by the
// compiler, and the growth with it. It reads, and writes nothing that other
// goroutines share.
//
//go:noinline
func use(b []byte) byte { return b[len(b)-1] }
