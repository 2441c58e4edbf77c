//go:build unix && !aix && !solaris

package registry

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestLockFile checks that a second flock of the same file waits, fails
// when its context is done, and succeeds once the first is released. Each
// lockFile call opens the file anew, so the two locks conflict as if they
// were taken by two processes.
func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vaults.toml")
	release, err := lockFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err = lockFile(ctx, path)
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "registry "+path+" is locked by another process" {
		t.Errorf("second lock = %v, want a locked error", err)
	}
	release()
	release2, err := lockFile(t.Context(), path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	release2()
}
