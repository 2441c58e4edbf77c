//go:build unix && !solaris && !aix && !android

package storage

import (
	"context"
	"os"
	"time"

	"github.com/sesamehq/sesame/engine/internal/fileperm"
	"github.com/sesamehq/sesame/internal/filelock"
)

// openLocked opens the database file and takes its flock, shared for a
// reader and exclusive for a writer, waiting until deadline or the end of
// ctx. It is given to bbolt as Options.OpenFile: bbolt then takes the same
// lock on the same open file description, which succeeds at once.
//
// The file is opened with O_NOFOLLOW and checked through the descriptor
// (fileperm.OpenFile): a link, or a file someone else owns or can write,
// is refused, so a storage file planted in a shared folder captures
// nothing.
//
// Once locked, the file must still be the one at the path: a compaction
// (Compact) renames a new file over it while holding its lock, and a
// writer that had opened the old file would otherwise commit to a file no
// one reads again. It is opened anew then.
//
// bbolt's own wait polls every 50 ms and cannot be cancelled; this one
// (filelock.Lock) backs off from 100 µs to 2 ms and watches ctx, so a lock
// held for one commit by another process is handed over in well under a
// millisecond of extra delay.
func openLocked(ctx context.Context, deadline time.Time) func(string, int, os.FileMode) (*os.File, error) {
	return func(name string, flag int, perm os.FileMode) (*os.File, error) {
		how := filelock.Shared
		if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			how = filelock.Exclusive
		}
		f, err := lockCurrent(ctx, name, flag, perm, how, deadline)
		if err != nil {
			return nil, err
		}
		if how == filelock.Shared {
			// A reader must not let bbolt see an empty file: bbolt
			// would try to initialise it through a read-only
			// descriptor. Under the shared lock an empty file can only
			// be one whose creator died before writing anything.
			fi, err := f.Stat()
			if err != nil {
				f.Close()
				return nil, err
			}
			if fi.Size() == 0 {
				f.Close()
				return nil, errEmptyFile
			}
		}
		return f, nil
	}
}

// lockCurrent opens the file at name and locks it, again as long as the
// file it locked is no longer the one at name (replaced by a compaction
// while it waited).
func lockCurrent(ctx context.Context, name string, flag int, perm os.FileMode, how int, deadline time.Time) (*os.File, error) {
	for {
		f, err := fileperm.OpenFile(name, flag, perm)
		if err != nil {
			return nil, err
		}
		if err := filelock.Lock(ctx, f, how, deadline); err != nil {
			f.Close()
			return nil, err
		}
		held, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if now, err := os.Lstat(name); err == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
	}
}
