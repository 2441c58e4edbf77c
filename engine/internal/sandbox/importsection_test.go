package sandbox

import (
	"testing"

	"github.com/sesamehq/sesame/internal/testwasm"
)

// FuzzWasmImports: the import-section reader never panics and never reads
// past its input, whatever the bytes.
func FuzzWasmImports(f *testing.F) {
	seeds := 0
	for _, path := range []string{"engine/internal/sandbox/testdata/echo.wat", "engine/internal/sandbox/testdata/kdf.wat", "engine/internal/sandbox/testdata/badptr.wat"} {
		b := testwasm.WAT(f, path)
		if len(wasmImports(b)) == 0 {
			f.Fatalf("%s: no imports read", path)
		}
		f.Add(b)
		seeds++
	}
	if seeds == 0 {
		f.Fatal("no seeds")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, im := range wasmImports(b) {
			if len(im.module)+len(im.name) > len(b) {
				t.Fatalf("import %s.%s is longer than the input", im.module, im.name)
			}
		}
	})
}
