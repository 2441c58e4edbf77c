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

// WaitWatch waits until e's watch on its registry's folder has counted
// the events of a change made before the call, and reports whether e has
// a watch at all.
func WaitWatch(ctx context.Context, e *Engine) bool {
	e.mu.Lock()
	w := e.fresh.watch
	e.mu.Unlock()
	if !w.live() {
		return false
	}
	select {
	case <-w.batch:
	case <-ctx.Done():
	}
	return true
}
