//go:build !unix || aix || solaris

package registry

import "context"

// lockFile does nothing here: without flock(2), Update serialises only the
// goroutines of one process (see lock).
func lockFile(ctx context.Context, path string) (release func(), err error) {
	return func() {}, nil
}
