//go:build unix

package filelock

import "os"

// SyncDir flushes dir's entries to disk: after it, a file created in dir
// or renamed into it is there after a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
