package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"path/filepath"
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesamehq/sesame/internal/testwasm"
)

// TestKeptModuleCompiledOnce: the Hosts of a process that shares its
// compiled modules (ShareCompiledModules) compile a module one at a time:
// a Host that loads it while another compiles it waits for its turn, and
// then finds it kept, without building (checking and instrumenting) and
// compiling it again. (It installs the switch over a folder of its own,
// and the one it found again at its end.)
func TestKeptModuleCompiledOnce(t *testing.T) {
	old := shareHook.Load()
	t.Cleanup(func() { shareHook.Store(old) })
	root, keyFile := t.TempDir(), filepath.Join(t.TempDir(), "cache.key")
	ShareCompiledModules(root)
	ctx := context.Background()
	wasm := testwasm.WAT(t, "engine/internal/sandbox/testdata/echo.wat")
	key := compiledKey{sum: sha256.Sum256(wasm), memory: 1 << 20}
	compile := func(build func() ([]byte, error)) chan error {
		h, err := NewHost(Config{CacheDir: root, CacheKey: keyFile})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close(ctx) })
		r, err := h.runtimeFor(ctx, runtimeKeyOf(wasm, 16, false))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := h.compiledFor(ctx, r, key, build)
			done <- err
		}()
		return done
	}

	var builds atomic.Int32
	building, release := make(chan struct{}), make(chan struct{})
	build := func() ([]byte, error) {
		if builds.Add(1) == 1 {
			close(building)
			<-release
		}
		return wasm, nil
	}
	first := compile(build)
	<-building
	second := compile(build)
	// The second Host waits for its turn, or (were there no turns) builds.
	for builds.Load() == 1 && !waitsForTurn() {
		time.Sleep(time.Millisecond)
	}
	close(release)
	for _, done := range []chan error{first, second} {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("two Hosts that loaded one module at once built it %d times, want once", n)
	}
}

// waitsForTurn reports whether a goroutine waits in keeper.turn.
func waitsForTurn() bool {
	buf := make([]byte, 1<<20)
	return bytes.Contains(buf[:goruntime.Stack(buf, true)], []byte("sandbox.(*keeper).turn("))
}
