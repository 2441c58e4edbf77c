package sandbox

import (
	"context"
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
