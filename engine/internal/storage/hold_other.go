//go:build unix && !linux && !solaris && !aix && !android

package storage

import (
	"context"
	"os"
)

// Idle holds need inotify and leases (hold_linux.go): elsewhere the flock
// is released as the last read leaves.

func watchHold(*reader, string) bool { return false }

func unwatchHold(*reader) {}

func pollHolds(context.Context, *reader) {}

func noWriters(*os.File) bool { return false }
