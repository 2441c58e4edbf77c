package sandbox

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
)

// TestKeyMemoryNotLocked: where mlock is refused (RLIMIT_MEMLOCK) the keys
// still work, and the vault's log says so once.
func TestKeyMemoryNotLocked(t *testing.T) {
	var logged strings.Builder
	h := keyHost(t, slog.New(slog.NewTextHandler(&logged, nil)))
	old := lockMemory
	t.Cleanup(func() { lockMemory = old })
	lockMemory = func([]byte) error { return errors.New("cannot allocate memory") }

	m, _ := keyVault(t, h, "Unlockable", nil)
	mustCall(t, m, abi.OpUnlock, []byte("pw"))
	set(t, m, "a", "v")
	if v, s := get(t, m, "a"); s != abi.OK || v != "v" {
		t.Errorf("get = %q %v", v, s)
	}
	if n := strings.Count(logged.String(), "could not be locked"); n != 1 || !strings.Contains(logged.String(), "vault=Unlockable") {
		t.Errorf("log, %d warnings about locking, want 1 naming the vault:\n%s", n, logged.String())
	}
}
