//go:build unix && !aix && !solaris

package filelock

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// How a lock is held: shared by readers, exclusive for a writer.
const (
	Shared    = syscall.LOCK_SH
	Exclusive = syscall.LOCK_EX
)

// Lock takes the flock of f, Shared or Exclusive, waiting until it is free,
// deadline passes (ErrTimeout; the zero time waits without end, a time
// already past tries once) or ctx ends (ctx.Err()). The lock belongs to f's open file description: closing
// f releases it.
//
// flock has no blocking wait that a context can cancel, so Lock polls; it
// backs off from 100 µs to 2 ms, so a lock held for one commit by another
// process is handed over with well under a millisecond of extra delay.
func Lock(ctx context.Context, f *os.File, how int, deadline time.Time) error {
	fd := int(f.Fd())
	backoff := 100 * time.Microsecond
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		err := syscall.Flock(fd, how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
		wait := backoff
		if !deadline.IsZero() {
			if wait = time.Until(deadline); wait <= 0 {
				return ErrTimeout
			}
			wait = min(wait, backoff)
		}
		backoff = min(2*backoff, 2*time.Millisecond)
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
}
