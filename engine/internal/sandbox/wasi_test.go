package sandbox

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/sys"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/internal/testonly"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// wasiProbe calls each of the host's own WASI functions (ownWASI) with
// good and bad arguments. probe writes, from address 0, one i64 per
// result: an errno, or the value a call wrote; 32 random bytes go to 1024.
// exit calls proc_exit with its argument.
const wasiProbe = `(module
  (import "wasi_snapshot_preview1" "clock_res_get" (func $res (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (global $at (mut i32) (i32.const 0))
  (func $put (param i64)
    (i64.store (global.get $at) (local.get 0))
    (global.set $at (i32.add (global.get $at) (i32.const 8))))
  (func $errno (param i32) (call $put (i64.extend_i32_u (local.get 0))))
  (func $value (param i32) (call $put (i64.load (local.get 0))))
  (func (export "probe")
    (call $errno (call $res (i32.const 0) (i32.const 512)))      (call $value (i32.const 512))
    (call $errno (call $res (i32.const 1) (i32.const 512)))      (call $value (i32.const 512))
    (call $errno (call $res (i32.const 2) (i32.const 512)))
    (call $errno (call $res (i32.const 1) (i32.const 65532)))
    (call $errno (call $time (i32.const 0) (i64.const 0) (i32.const 512)))   (call $value (i32.const 512))
    (call $errno (call $time (i32.const 1) (i64.const 1) (i32.const 512)))   (call $value (i32.const 512))
    (call $errno (call $time (i32.const 1) (i64.const 0) (i32.const 512)))   (call $value (i32.const 512))
    (call $errno (call $time (i32.const 3) (i64.const 0) (i32.const 512)))
    (call $errno (call $time (i32.const 0) (i64.const 0) (i32.const -1)))
    (call $errno (call $random (i32.const 1024) (i32.const 32)))
    (call $errno (call $random (i32.const 65530) (i32.const 7)))
    (call $errno (call $random (i32.const 0) (i32.const 0)))
    (call $errno (call $yield)))
  (func (export "exit") (param i32) (call $exit (local.get 0))))`

// probeResult is what one run of wasiProbe's probe gave.
type probeResult struct {
	slots  []uint64 // errnos and values, in the order probe writes them
	random []byte
	exit   error // of exit(7)
}

// The slots of probeResult that hold a clock's reading rather than an
// errno or a resolution.
const (
	probeRealtime  = 7
	probeMonotonic = 9
	probeLater     = 11
)

// runProbe runs wasiProbe in the runtime of k of a new Host, under the
// module configuration every vault gets.
func runProbe(t *testing.T, wasm []byte, k runtimeKey) probeResult {
	t.Helper()
	ctx := context.Background()
	h, err := NewHost(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	r, err := h.runtimeFor(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := r.rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	if problems := r.importProblems(compiled, wasm); problems != nil {
		t.Fatalf("the probe's imports: %v", problems)
	}
	var res probeResult
	cfg := (&Module{}).moduleConfig()
	for _, name := range []string{"probe", "exit"} {
		mod, err := r.rt.InstantiateModule(ctx, compiled, cfg.WithName(name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "exit" {
			_, res.exit = mod.ExportedFunction("exit").Call(ctx, 7)
			if !mod.IsClosed() {
				t.Errorf("proc_exit left the instance open (runtime %+v)", k)
			}
			continue
		}
		if _, err := mod.ExportedFunction("probe").Call(ctx); err != nil {
			t.Fatalf("probe: %v", err)
		}
		mem, _ := mod.Memory().Read(0, 1056)
		for i := 0; i < 18; i++ {
			res.slots = append(res.slots, binary.LittleEndian.Uint64(mem[8*i:]))
		}
		res.random = bytes.Clone(mem[1024:1056])
		mod.Close(ctx)
	}
	return res
}

// TestOwnWASIMatchesWazero: the host's own WASI functions return what
// wazero's do under the vaults' module configuration, for good arguments
// and bad: the same errnos, clock resolutions, real clocks (or the tests'
// fake clock), a random source that differs between instances, and
// proc_exit closing the instance with a sys.ExitError.
func TestOwnWASIMatchesWazero(t *testing.T) {
	wasm := testwasm.WATSource(t, wasiProbe)
	own := runtimeKeyOf(wasm, 1, false)
	if own.fullWASI || len(own.wants(wasiModule)) != 5 {
		t.Fatalf("runtime key of the probe: %+v, want the host's own 5 WASI functions", own)
	}
	full := own
	full.fullWASI = true
	for _, fake := range []bool{false, true} {
		var clock *testonly.FakeClock
		if fake {
			clock = testonly.UseFakeClock(t)
			clock.Advance(time.Hour) // unlike the real clock
		}
		before := time.Now()
		if fake {
			before = clock.Now()
		}
		want, got := runProbe(t, wasm, full), runProbe(t, wasm, own)
		after := time.Now()
		if fake {
			after = clock.Now()
		}
		for i := range want.slots {
			switch i {
			case probeRealtime:
				for _, r := range []probeResult{want, got} {
					if ns := int64(r.slots[i]); ns < before.UnixNano() || ns > after.UnixNano() {
						t.Errorf("fake clock %v: realtime %v, want between %v and %v", fake, time.Unix(0, ns), before, after)
					}
				}
			case probeMonotonic:
				if got.slots[probeLater] < got.slots[i] || got.slots[i] == 0 {
					t.Errorf("fake clock %v: own monotonic clock read %d then %d", fake, got.slots[i], got.slots[probeLater])
				}
			case probeLater:
			default:
				if got.slots[i] != want.slots[i] {
					t.Errorf("fake clock %v: slot %d is %d, wazero's WASI gives %d", fake, i, got.slots[i], want.slots[i])
				}
			}
		}
		if bytes.Equal(got.random, want.random) || bytes.Equal(got.random, make([]byte, 32)) {
			t.Errorf("random_get gave %x, and %x in another instance: not the system's random source", got.random, want.random)
		}
		for _, r := range []probeResult{want, got} {
			var exit *sys.ExitError
			if !errors.As(r.exit, &exit) || exit.ExitCode() != 7 {
				t.Errorf("exit(7): %v, want a sys.ExitError of code 7", r.exit)
			}
		}
	}
}

// TestRuntimesHaveOnlyWhatTheirModulesImport: a module's runtime has the
// host functions the module imports and no other: the builtin secretstore
// gets two of the host's own WASI functions, a module that imports a WASI
// function the host does not write gets wazero's whole WASI module, and a
// module that imports nothing of a host module gets none of it.
func TestRuntimesHaveOnlyWhatTheirModulesImport(t *testing.T) {
	store, err := os.ReadFile(filepath.Join(testwasm.ModuleRoot(t), "extensions", "secretstore.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	fdWrite := `(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))`
	for _, tt := range []struct {
		name string
		wasm []byte
		want map[string]int // host module → functions
	}{
		{"secretstore", store, map[string]int{wasiModule: 2, abi.ImportModule: 24}},
		{"fd_write", testwasm.WATSource(t, `(module `+fdWrite+` (import "sesame_v1" "input" (func (param i32 i32 i32) (result i32))))`),
			map[string]int{wasiModule: 46, abi.ImportModule: 1}},
		{"as abort", testwasm.WATSource(t, `(module (import "env" "abort" (func (param i32 i32 i32 i32))))`),
			map[string]int{envModule: 3}},
		{"nothing", testwasm.WATSource(t, `(module)`), map[string]int{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			h, err := NewHost(Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close(ctx)
			r, err := h.runtimeFor(ctx, runtimeKeyOf(tt.wasm, 16, false))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, name := range []string{wasiModule, abi.ImportModule, envModule} {
				if mod := r.rt.Module(name); mod != nil {
					got[name] = len(mod.ExportedFunctionDefinitions())
				}
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("host modules: %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRuntimeKeyNamesEachImportOnce: duplicate imports, unknown names and
// non-function kinds named like host functions make one key, in one order.
func TestRuntimeKeyNamesEachImportOnce(t *testing.T) {
	k := runtimeKeyOf(testwasm.WATSource(t, `(module
  (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))
  (import "sesame_v1" "output" (func (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $again (param i32 i32) (result i32)))
  (import "sesame_v1" "input" (global i32))
  (import "sesame_v1" "no_such_function" (func)))`), 1, false)
	if k.fullWASI {
		t.Errorf("key %+v: wazero's WASI, for random_get alone", k)
	}
	if want := "sesame_v1.input\nsesame_v1.output\nwasi_snapshot_preview1.random_get"; k.funcs != want {
		t.Errorf("key's functions %q, want %q", k.funcs, want)
	}
	if got := k.wants(abi.ImportModule); !slices.Equal(got, []string{"input", "output"}) {
		t.Errorf("wants(sesame_v1) = %q", got)
	}
}
