package sandbox

import (
	"context"
	"testing"

	"github.com/sesamehq/sesame/internal/testwasm"
)

// TestVaultsShareTheCompiledModule: two vaults of one extension under one
// memory grant share its compiled module, which outlives the first vault's
// close and goes with the last; another grant compiles its own.
func TestVaultsShareTheCompiledModule(t *testing.T) {
	ctx := context.Background()
	h := newTestHost(t)
	wasm := testwasm.WAT(t, "engine/internal/sandbox/testdata/memgrow.wat")
	load := func(vault string, memory uint64) *Module {
		t.Helper()
		m, err := h.Load(ctx, Spec{Vault: vault, Wasm: wasm, Memory: memory, Instances: 1})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b, c := load("A", 2<<20), load("B", 2<<20), load("C", 4<<20)
	defer c.Close(ctx)
	if a.compiled != b.compiled {
		t.Error("two vaults of one module under one grant compiled it twice")
	}
	if a.compiled == c.compiled {
		t.Error("vaults under different grants share a compiled module (instrumented for one grant)")
	}
	a.Close(ctx)
	a.Close(ctx) // a second close gives back nothing more
	b.pool.drain(ctx)
	if got := grow(t, b, 0); got != [3]int32{1, 1, 2} {
		t.Errorf("B after A closed: %d", got)
	}
	b.Close(ctx)
	h.compiledMu.Lock()
	defer h.compiledMu.Unlock()
	if len(h.shared) != 1 {
		t.Errorf("%d compiled modules held after two of three vaults closed, want 1", len(h.shared))
	}
}
