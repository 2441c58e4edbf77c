//go:build unix && !aix && !solaris

package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/sesamehq/sesame/engine/internal/fileperm"
)

// lockFile takes an exclusive flock(2) on the sidecar file "<path>.lock",
// creating it, polling until it is free or ctx is done. It is opened with
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
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: lockPath, Err: err}
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, &regError{msg: fmt.Sprintf("registry %s is locked by another process", path), err: ctx.Err()}
		case <-time.After(wait):
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
