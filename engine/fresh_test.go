package engine_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testonly"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// vaultNames returns the names e's registry holds, in order.
func vaultNames(t *testing.T, e *engine.Engine) []string {
	t.Helper()
	regs, err := e.Vaults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range regs {
		names = append(names, r.Name)
	}
	return names
}

// writeOther changes the registry at path as another process would (a hand
// edit, another sesame): it adds a vault Other, writing a new file and
// renaming it over the old, without an engine of this process.
func writeOther(t *testing.T, path, wasm string) {
	t.Helper()
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("%s\n[vaults.Other]\nextension = %q\n\n  [vaults.Other.grants]\n  storage = true\n", old, wasm)
	if err := os.WriteFile(path+".new", []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// TestRegistryRecheckWindow: without a watch, an engine looks at its
// registry file at most every 100 ms. Its own writes it sees at once;
// another process's write it sees at the first operation after the window,
// and not before: no operation inside the window looks at the file.
func TestRegistryRecheckWindow(t *testing.T) {
	a, path := emptyEngine(t)
	clock := testonly.UseFakeClock(t)
	engine.NoWatch(a)
	wasm := testwasm.Build(t, "examples/c-vault")

	if err := a.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "Own", Extension: wasm, Grants: engine.Grants{Storage: true}}}); err != nil {
		t.Fatal(err)
	}
	if got := vaultNames(t, a); !slices.Equal(got, []string{"Own"}) {
		t.Fatalf("the engine's own write, seen at once: %v", got)
	}

	writeOther(t, path, wasm)
	clock.Advance(99 * time.Millisecond)
	if got := vaultNames(t, a); !slices.Equal(got, []string{"Own"}) {
		t.Fatalf("inside the window, the engine looked at the file: %v", got)
	}
	clock.Advance(time.Millisecond)
	if got := vaultNames(t, a); !slices.Equal(got, []string{"Other", "Own"}) {
		t.Fatalf("another process's write, after the window: %v", got)
	}
}

// TestRegistryOtherEngine: a write through another engine of the process
// is seen by the next operation, window or not (the clock does not move).
func TestRegistryOtherEngine(t *testing.T) {
	a, path := emptyEngine(t)
	testonly.UseFakeClock(t)
	engine.NoWatch(a)
	vaultNames(t, a)
	b, err := engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(filepath.Dir(path), "data"), CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "Other", Extension: testwasm.Build(t, "examples/c-vault"), Grants: engine.Grants{Storage: true}}}); err != nil {
		t.Fatal(err)
	}
	if got := vaultNames(t, a); !slices.Equal(got, []string{"Other"}) {
		t.Fatalf("another engine's write, at the next operation: %v", got)
	}
}

// TestRegistryWatch: on Linux an engine watches its registry's folder, and
// the very next operation sees another process's write, or a chmod that
// makes the file untrusted: the window plays no part (the clock does not
// move), and nothing is waited for. The events used to be read by a
// goroutine, and an operation right after a change could still be served
// from the registry before it (the agent answered `sesame info` after a
// chmod 664 of vaults.toml).
func TestRegistryWatch(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("inotify is Linux's")
	}
	a, path := emptyEngine(t)
	wasm := testwasm.Build(t, "examples/c-vault")
	if err := a.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "Own", Extension: wasm, Grants: engine.Grants{Storage: true}}}); err != nil {
		t.Fatal(err)
	}
	vaultNames(t, a)
	if !engine.WaitWatch(ctx, a) {
		t.Fatal("the engine has no watch on its registry")
	}
	for round := range 20 {
		writeOther(t, path, wasm)
		if got := vaultNames(t, a); !slices.Equal(got, []string{"Other", "Own"}) {
			t.Fatalf("round %d: the operation right after another process's write: %v", round, got)
		}
		if err := os.Chmod(path, 0o664); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Vaults(ctx); !errors.Is(err, engine.ErrRegistry) {
			t.Fatalf("round %d: the operation right after a chmod 664: %v", round, err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := a.Unregister(ctx, engine.UnregisterRequest{Vault: "Other", Force: true}); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}

// TestOneInotifyInstance: the registry's watch and the storage's watches
// (its idle holds) are one inotify instance's, so that an operation reads
// the events of both with one system call. Each had one of its own, and a
// get read both.
func TestOneInotifyInstance(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("inotify is Linux's")
	}
	e, _ := emptyEngine(t)
	wasm := testwasm.Build(t, "examples/c-vault")
	if err := e.Register(ctx, engine.RegisterRequest{Registration: engine.Registration{Name: "Own", Extension: wasm, Grants: engine.Grants{Storage: true}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Set(ctx, engine.SetRequest{Name: "s", Value: "v", Vault: "Own"}); err != nil {
		t.Fatal(err)
	}
	if s, err := e.Get(ctx, engine.GetRequest{Name: "s", Vault: "Own"}); err != nil || s.Value != "v" {
		t.Fatalf("Get = %v, %v", s.Value, err)
	}
	if !engine.WaitWatch(ctx, e) {
		t.Fatal("the engine has no watch on its registry")
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	n := 0
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.Contains(l, "inotify") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d inotify instances open after a get from a vault on disk; want 1", n)
	}
}

// TestRegistryWritesLookNow: a registration looks at the file whatever the
// window says. Another process unregistered Own a moment ago (inside the
// window, and with no watch); registering Own again must not be refused
// as "already registered" on the strength of the registry read before.
func TestRegistryWritesLookNow(t *testing.T) {
	a, path := emptyEngine(t)
	testonly.UseFakeClock(t)
	engine.NoWatch(a)
	reg := engine.Registration{Name: "Own", Extension: testwasm.Build(t, "examples/c-vault"), Grants: engine.Grants{Storage: true}}
	if err := a.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".new", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	if err := a.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatalf("register again after another process unregistered it: %v", err)
	}
}
