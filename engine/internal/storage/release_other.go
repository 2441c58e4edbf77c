//go:build !unix || solaris || aix || android

package storage

import "os"

// releaseFile closes f after bbolt panicked while opening it.
func releaseFile(f *os.File) { f.Close() }
