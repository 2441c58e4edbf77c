//go:build unix && !aix && !solaris

package registry

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/sesamehq/sesame/engine/internal/fileperm"
	"github.com/sesamehq/sesame/internal/filelock"
)

// lockFile takes an exclusive flock(2) on the sidecar file "<path>.lock",
// creating it, waiting until it is free or ctx is done. It is opened with
// O_NOFOLLOW and must pass fileperm.CheckFile: a link planted there would
// have sesame create files wherever it points. The lock is released
// by the returned function or when the process ends. The sidecar is never
// removed: removing it would let two processes lock two different files.
// (syscall has no Flock on AIX and Solaris; those use lock_other.go.)
func lockFile(ctx context.Context, path string) (release func(), err error) {
	lockPath := path + ".lock"
	f, err := fileperm.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := filelock.Lock(ctx, f, filelock.Exclusive, time.Time{}); err != nil {
		f.Close()
		if ctx.Err() != nil {
			return nil, &regError{msg: fmt.Sprintf("registry %s is locked by another process", path), err: ctx.Err()}
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}
