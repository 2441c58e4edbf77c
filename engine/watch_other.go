//go:build !linux

package engine

// watch is Linux's inotify watch (watch_linux.go); elsewhere the engine
// rechecks the registry file at most every recheck.
type watch struct{}

func startWatch(string) *watch { return nil }

func (w *watch) state() (uint64, bool) { return 0, false }
func (w *watch) live() bool            { return false }
func (w *watch) events() uint64        { return 0 }
func (w *watch) close()                {}
