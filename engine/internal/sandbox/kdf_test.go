package sandbox

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// TestKDFTurnPerModule: a module holds at most one of the process's key
// derivation slots. While module A derives (its turn is taken) and another
// slot is in use, A's next derivation waits for A's own turn, leaving the
// last slot free, and module B derives at once.
func TestKDFTurnPerModule(t *testing.T) {
	ctx := context.Background()
	h, err := NewHost(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	wasm := testwasm.WAT(t, "engine/internal/sandbox/testdata/kdf.wat")
	a, err := h.Load(ctx, Spec{Vault: "A", Wasm: wasm, Instances: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Load(ctx, Spec{Vault: "B", Wasm: wasm})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Call(ctx, abi.OpGet, []byte("x")); err != nil {
		t.Fatalf("a derivation with every slot free: %v", err)
	}

	a.kdfTurn <- struct{}{} // A is deriving
	kdfSlots <- struct{}{}  // and so is someone else: one slot is free
	defer func() { <-kdfSlots }()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = a.Call(short, abi.OpGet, []byte("x"))
	cancel()
	if err == nil {
		t.Fatal("A derived a second key at once")
	}
	var se *Error
	if !(errors.As(err, &se) && se.Status == abi.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("A's second derivation: %v, want a deadline", err)
	}
	if n := len(kdfSlots); n != 1 {
		t.Fatalf("%d process slots in use after A waited, want 1 (A must not take the last)", n)
	}
	if _, err := b.Call(ctx, abi.OpGet, []byte("x")); err != nil {
		t.Fatalf("B, with a slot free: %v", err)
	}
	<-a.kdfTurn
	if _, err := a.Call(ctx, abi.OpGet, []byte("x")); err != nil {
		t.Fatalf("A, its turn back: %v", err)
	}
}

// kdfArgs is the argument of kdfparams.wat's get: time and memory in KiB.
func kdfArgs(t, memKiB uint32) []byte {
	return binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, t), memKiB)
}

// TestKDFMemoryWithinGrant: a vault cannot make the host derive with more
// memory than its memory grant; as much as its grant is fine.
func TestKDFMemoryWithinGrant(t *testing.T) {
	ctx := context.Background()
	h, err := NewHost(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	m, err := h.Load(ctx, Spec{Vault: "Small", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/kdfparams.wat"), Memory: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var se *Error
	_, err = m.Call(ctx, abi.OpGet, kdfArgs(1, 64<<10))
	if !errors.As(err, &se) || se.Status != abi.TooLarge {
		t.Errorf("64 MiB asked by a vault granted 8 MiB: %v, want TOO_LARGE", err)
	}
	if _, err := m.Call(ctx, abi.OpGet, kdfArgs(1, 8<<10)); err != nil {
		t.Errorf("8 MiB asked by a vault granted 8 MiB: %v", err)
	}
}

// TestKDFStopsAtTheDeadline: a derivation that cannot finish before the
// call's deadline does not hold the call past it. The call ends with
// DEADLINE_EXCEEDED while the derivation, left behind, still holds its
// process slot (so it has not finished: the call did not wait for it); the
// slot is given back when it ends.
func TestKDFStopsAtTheDeadline(t *testing.T) {
	ctx := context.Background()
	h, err := NewHost(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	m, err := h.Load(ctx, Spec{Vault: "Slow", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/kdfparams.wat"), Memory: 64 << 20, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Three passes over 64 MiB: hundreds of milliseconds, several times
	// the deadline (and CPU that the derivation left behind burns to the
	// end: ten passes took seconds of it).
	_, err = m.Call(ctx, abi.OpGet, kdfArgs(3, 64<<10))
	var se *Error
	if !errors.As(err, &se) || se.Status != abi.DeadlineExceeded {
		t.Fatalf("a derivation longer than the deadline: %v, want DEADLINE_EXCEEDED", err)
	}
	if len(kdfSlots) != 1 {
		t.Fatalf("%d derivations running after the call returned, want the one left behind: the call waited for it", len(kdfSlots))
	}
	// The slot comes back when the derivation ends.
	kdfSlots <- struct{}{}
	kdfSlots <- struct{}{}
	<-kdfSlots
	<-kdfSlots
}
