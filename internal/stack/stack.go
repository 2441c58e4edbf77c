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

// use keeps the frame: a frame that nothing reads is removed by the
// compiler, and the growth with it. It reads, and writes nothing that other
// goroutines share.
//
//go:noinline
func use(b []byte) byte { return b[len(b)-1] }
