package sandbox

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// marker is what testdata/keys.wat holds in its memory and keeps in its
// keyring.
var marker = []byte("keyring-marker-5e1d")

// loadKeys loads testdata/keys.wat with one instance, makes that instance
// (its test export), checks that its memory holds the marker, and returns
// the module with where that memory begins (for checkGivenBack).
func loadKeys(t *testing.T, h *Host) (*Module, uintptr) {
	t.Helper()
	ctx := context.Background()
	m, err := h.Load(ctx, Spec{Vault: "Keys", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/keys.wat"), Instances: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Call(ctx, abi.OpTest); err != nil {
		t.Fatal(err)
	}
	in := <-m.pool.idle
	view, ok := in.mod.Memory().Read(0, in.mod.Memory().Size())
	start := memoryStart(in)
	m.pool.idle <- in
	if !ok || !bytes.Contains(view, marker) {
		t.Fatal("the instance's memory does not hold the marker")
	}
	return m, start
}

func newTestHost(t *testing.T) *Host {
	t.Helper()
	h, err := NewHost(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

// liveKey returns the keyring's key, nil when it holds none.
func liveKey(m *Module) []byte {
	m.keyring.mu.Lock()
	defer m.keyring.mu.Unlock()
	return m.keyring.key
}

// zeroed reports whether b holds only zeros, under the keyring's lock
// (the keyring zeroes its key under it).
func zeroed(m *Module, b []byte) bool {
	m.keyring.mu.Lock()
	defer m.keyring.mu.Unlock()
	return !bytes.ContainsFunc(b, func(r rune) bool { return r != 0 })
}

// TestKeyExpiresOnTimer: a key kept with a time to live is zeroed when it
// runs out, though no call reads it, and the vault's instances are
// discarded with their memory zeroed.
func TestKeyExpiresOnTimer(t *testing.T) {
	m, start := loadKeys(t, newTestHost(t))
	defer m.Close(context.Background())
	if _, err := m.Call(context.Background(), abi.OpGet, []byte("x")); err != nil { // 1 ms
		t.Fatal(err)
	}
	key := liveKey(m)
	// The instance gives its place in the pool back once discarded: taking
	// it waits for that (and orders the zeroing before the check).
	select {
	case m.pool.slots <- struct{}{}:
		<-m.pool.slots
	case <-time.After(time.Minute):
		t.Fatal("the vault's instance outlived its 1 ms key by a minute")
	}
	if liveKey(m) != nil || (key != nil && !zeroed(m, key)) {
		t.Error("the expired key was not zeroed")
	}
	checkGivenBack(t, start, "the discarded instance's memory")
}

// TestLockZeroesInstances: after a successful lock the vault's instances
// are discarded and their memory zeroed.
func TestLockZeroesInstances(t *testing.T) {
	m, start := loadKeys(t, newTestHost(t))
	defer m.Close(context.Background())
	if _, err := m.Call(context.Background(), abi.OpLock); err != nil {
		t.Fatal(err)
	}
	checkGivenBack(t, start, "the memory of the locked vault's instance")
	if _, err := m.Call(context.Background(), abi.OpTest); err != nil {
		t.Fatalf("a call after the lock: %v", err)
	}
}

// TestCloseZeroesInstances: closing a module zeroes its instances' memory.
func TestCloseZeroesInstances(t *testing.T) {
	m, start := loadKeys(t, newTestHost(t))
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkGivenBack(t, start, "the memory of the closed module's instance")
}

// TestHostForget: Forget zeroes every module's key and instances without
// calling them, and the keyring takes no key after it.
func TestHostForget(t *testing.T) {
	ctx := context.Background()
	h := newTestHost(t)
	m, start := loadKeys(t, h)
	defer m.Close(ctx)
	if _, err := m.Call(ctx, abi.OpUnlock, []byte("pw")); err != nil {
		t.Fatal(err)
	}
	key := liveKey(m)
	if key == nil {
		t.Fatal("unlock kept no key")
	}
	h.Forget()
	if liveKey(m) != nil || !zeroed(m, key) {
		t.Error("Forget left the key")
	}
	checkGivenBack(t, start, "the memory of the instance Forget discarded")
	_, err := m.Call(ctx, abi.OpUnlock, []byte("pw"))
	var se *Error
	if !errors.As(err, &se) || se.Status != abi.Unavailable || liveKey(m) != nil {
		t.Errorf("unlock after Forget: %v, key kept: %v; want UNAVAILABLE and no key", err, liveKey(m) != nil)
	}
}
