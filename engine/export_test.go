package engine

import "context"

// Hooks for the tests of package engine_test; compiled into tests only.

// NoWatch drops e's watch on its registry, so that the recheck window
// alone decides when e looks at the file; a test moves the window's clock
// with testonly.UseFakeClock.
func NoWatch(e *Engine) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fresh.stop()
	e.fresh.noWatch = true
}

// WaitWatch reports whether e has a live watch on its registry's folder.
// An operation reads the events queued before it began (watch_linux.go), so
// there is nothing to wait for; ctx is kept for the tests' calls.
func WaitWatch(_ context.Context, e *Engine) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fresh.watch.live()
}
