//go:build unix && !solaris && !aix && !android

package storage

import (
	"os"
	"syscall"
)

// releaseFile drops the flock of f and closes it, after bbolt panicked
// while opening the file. Closing alone is not enough: bbolt had mapped the
// file, and the map keeps the open file description, and with it the flock,
// alive until the process exits, locking every later operation out.
func releaseFile(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	f.Close()
}
