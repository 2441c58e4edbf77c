package sandbox_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
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
		for b.Loop() {
			if _, err := m.Call(context.Background(), abi.OpGet, arg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		m := hostile(b, h, 0, 1)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Call(context.Background(), abi.OpGet, []byte("count")); err != nil {
				b.Fatal(err)
			}
		}
	})
}
