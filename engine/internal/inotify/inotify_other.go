//go:build !linux

package inotify

import "context"

// Watcher is told of the events of its watches (inotify_linux.go).
type Watcher interface {
	Noted(mask uint32) (wake bool)
	Wake()
}

// Add watches nothing without inotify.
func Add(Watcher, string, uint32, []byte) bool { return false }

func Remove(Watcher) {}

func Poll(Watcher) {}

func Begin(ctx context.Context) context.Context { return ctx }

func Polled(context.Context) bool { return false }
