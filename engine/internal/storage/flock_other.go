//go:build !unix || solaris || aix || android

package storage

import (
	"context"
	"os"
	"time"

	"github.com/sesamehq/sesame/engine/internal/fileperm"
)

// openLocked leaves locking to bbolt, which on these platforms waits for
// the lock itself (LockFileEx on Windows, fcntl elsewhere), bounded by
// bolt.Options.Timeout.
func openLocked(ctx context.Context, deadline time.Time) func(string, int, os.FileMode) (*os.File, error) {
	return func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := fileperm.OpenFile(name, flag, perm)
		if err != nil {
			return nil, err
		}
		if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
			if fi, err := f.Stat(); err == nil && fi.Size() == 0 {
				f.Close()
				return nil, errEmptyFile
			}
		}
		return f, nil
	}
}
