package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/internal/testwasm"
)

// FuzzShape checks the shape parser and the instrumentation on any bytes:
// neither panics; what the parser accepts, instrument either refuses for its
// tables or its reserved export, or rewrites into a module whose shape parses
// again, with a wrapper for every function, one more global, and a maximum
// within the memory grant on every table. Seeds: the built-in extensions
// (real Go guests), testdata/fuzz/FuzzShape (the test guests in WAT, compiled)
// and the compile bombs.
func FuzzShape(f *testing.F) {
	builtins, _ := filepath.Glob("../../../extensions/*.wasm")
	for _, path := range builtins {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint32(32))
	}
	corpus, _ := filepath.Glob("testdata/fuzz/FuzzShape/*")
	if len(builtins) == 0 || len(corpus) == 0 {
		f.Fatal("no seeds: the built-in extensions or testdata/fuzz/FuzzShape are missing")
	}
	f.Add(testwasm.LocalsBomb(1<<32-1), uint32(1024))
	f.Add(testwasm.LocalsBomb(100_000_000), uint32(32))
	f.Add([]byte("\x00asm\x01\x00\x00\x00"), uint32(0))
	f.Fuzz(func(t *testing.T, wasm []byte, pages uint32) {
		s, err := parseShape(wasm)
		if err != nil {
			return
		}
		memory := uint64(pages) << 16
		out, err := instrument(wasm, s, memory)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "table section: ") && !strings.HasPrefix(err.Error(), "export section: ") {
				t.Fatalf("instrument: %v", err)
			}
			return
		}
		if len(s.funcTypes) > maxFunctions/2 || len(out) > maxModuleBytes {
			return // the rewrite may pass the limits that the parser applies to a guest's module
		}
		got, err := parseShape(out)
		if err != nil {
			t.Fatalf("the instrumented module does not parse: %v", err)
		}
		wrapped := len(s.funcTypes) > 0
		if wrapped && (len(got.funcTypes) != 2*len(s.funcTypes) || got.globals != s.globals+3 || !got.exportsHost) {
			t.Fatalf("instrumented: %d functions, %d globals; want %d, %d and the host's exports", len(got.funcTypes), got.globals, 2*len(s.funcTypes), s.globals+3)
		}
		if !wrapped && len(out) != len(wasm) && len(s.tables) == 0 {
			t.Fatalf("a module without functions or tables was rewritten")
		}
		var entries uint64
		for _, tb := range got.tables {
			if tb.limits >= 0 {
				if flag := out[tb.limits]; flag != 1 {
					t.Fatalf("table without a maximum after instrument")
				}
				entries += uint64(tb.max)
			}
		}
		if entries > memory/tableEntryBytes {
			t.Fatalf("tables may grow to %d entries, more than the grant's %d", entries, memory/tableEntryBytes)
		}
	})
}
