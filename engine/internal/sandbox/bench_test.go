package sandbox_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
	"github.com/sesamehq/sesame/extensions"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// BenchmarkCall measures one export call with a 32-byte argument and output:
// the sandbox's own cost (deadline, pool, host calls, copies) with a WAT
// guest that does nothing else, and the same through a Go guest (the hostile
// module's "count", which runs the Go runtime's export path and the SDK).
func BenchmarkCall(b *testing.B) {
	h := newHost(b, nil)
	arg := bytes.Repeat([]byte("k"), 32)
	b.Run("wat", func(b *testing.B) {
		m := load(b, h, sandbox.Spec{Vault: "Echo", Wasm: testwasm.WAT(b, "engine/internal/sandbox/testdata/echo.wat")})
		b.ReportAllocs()
		defer testwasm.ReportCPU(b)()
		for b.Loop() {
			if _, err := m.Call(context.Background(), abi.OpGet, arg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		m := hostile(b, h, 0, 1)
		b.ReportAllocs()
		defer testwasm.ReportCPU(b)()
		for b.Loop() {
			if _, err := m.Call(context.Background(), abi.OpGet, []byte("count")); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoad measures loading the built-in secretstore (a 3.2 MB Go
// guest): cold, by a new Host with an empty compilation cache (parse, check
// the shape, instrument, compile, instantiate, read the manifest), and warm,
// from a Host whose cache on disk already holds the compiled module.
func BenchmarkLoad(b *testing.B) {
	wasm, ok := extensions.Lookup("secretstore")
	if !ok {
		b.Fatal("no built-in secretstore")
	}
	spec := sandbox.Spec{Vault: "S", Wasm: wasm, Storage: newMemStorage(), Params: map[string]string{"authentication": "none"}}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			h, err := sandbox.NewHost(sandbox.Config{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := h.Load(context.Background(), spec); err != nil {
				b.Fatal(err)
			}
			h.Close(context.Background())
		}
	})
	b.Run("warm", func(b *testing.B) {
		h, err := sandbox.NewHost(sandbox.Config{CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		defer h.Close(context.Background())
		m, err := h.Load(context.Background(), spec) // fills the cache
		if err != nil {
			b.Fatal(err)
		}
		m.Close(context.Background())
		for b.Loop() {
			m, err := h.Load(context.Background(), spec)
			if err != nil {
				b.Fatal(err)
			}
			m.Close(context.Background())
		}
	})
}
