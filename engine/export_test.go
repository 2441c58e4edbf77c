package engine

import (
	"context"
	"time"
)

// Hooks for the tests of package engine_test; compiled into tests only.

// UseClock makes e's registry recheck window read time from now, and drops
// e's watch, so that the window alone decides when e looks at the file.
func UseClock(e *Engine, now func() time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fresh.stop()
	e.fresh.now = now
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
