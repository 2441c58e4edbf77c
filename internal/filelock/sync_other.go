//go:build !unix

package filelock

// SyncDir does nothing: folders cannot be synced on every system (Windows
// refuses to flush a folder handle); the file's own sync is what remains.
func SyncDir(dir string) error { return nil }
