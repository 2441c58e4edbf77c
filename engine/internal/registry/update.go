package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/sesamehq/sesame/engine/internal/fileperm"
	"github.com/sesamehq/sesame/internal/filelock"
	"github.com/sesamehq/sesame/internal/testonly"
)

// Update changes the registry file at path under an exclusive lock: it
// locks the file against other processes and other goroutines (waiting until
// ctx is done), loads it (a missing file is an empty registry), calls fn,
// validates the result and replaces the file atomically with mode 0600,
// creating its folder with mode 0700 if needed. It returns the registry as
// written. The file, its lock file and the folders above them must pass
// the checks of package fileperm (Load's).
//
// If fn returns an error, Update returns that error and writes nothing. A
// file that does not parse is an error and is left as it is. If path is a
// symbolic link, the file it points to is replaced.
func Update(ctx context.Context, path string, fn func(*Registry) error) (*Registry, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", path, err)
	}
	target := abs
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		target = real
	}
	if err := fileperm.MkdirAll(filepath.Dir(target)); err != nil {
		return nil, err
	}
	unlock, err := lock(ctx, target)
	if err != nil {
		return nil, err
	}
	defer unlock()

	r, err := Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		r, err = &Registry{Path: abs}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := fn(r); err != nil {
		return nil, err
	}
	data, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	if err := writeFile(target, data); err != nil {
		return nil, fmt.Errorf("registry %s: %w", target, err)
	}
	return r, nil
}

// lock takes the in-process lock on path, then the file lock.
func lock(ctx context.Context, path string) (unlock func(), err error) {
	mu.Lock()
	sem, ok := sems[path]
	if !ok {
		sem = make(chan struct{}, 1)
		sems[path] = sem
	}
	mu.Unlock()
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &regError{msg: fmt.Sprintf("registry %s is locked by another update in this process", path), err: ctx.Err()}
	}
	release, err := lockFile(ctx, path)
	if err != nil {
		<-sem
		return nil, err
	}
	return func() { release(); <-sem }, nil
}

var (
	mu   sync.Mutex
	sems = map[string]chan struct{}{} // absolute path → a semaphore of one
)

// writeFile replaces path by a file holding data: it writes a temporary
// file in the same folder, syncs it, renames it over path and syncs the
// folder, so a crash leaves either the old file or the new one.
func writeFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	durable := testonly.Sync() // false only in a test process (testonly.NoSync)
	if durable {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if !durable {
		return nil
	}
	return filelock.SyncDir(dir)
}

// errNoWrite ends an Update of Inspect without writing.
var errNoWrite = errors.New("registry: nothing to write")

// Inspect runs fn on the registry file at path under Update's lock and
// writes nothing: for a decision that must not race with an Update of
// another process or goroutine. fn's error is returned.
func Inspect(ctx context.Context, path string, fn func(*Registry) error) error {
	_, err := Update(ctx, path, func(r *Registry) error {
		if err := fn(r); err != nil {
			return err
		}
		return errNoWrite
	})
	if errors.Is(err, errNoWrite) {
		return nil
	}
	return err
}
