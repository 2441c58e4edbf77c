package sandbox_test

import (
	"context"
	"encoding/binary"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/internal/sandbox"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// allocated returns how many bytes the process has allocated on the heap
// since it started (memstats' TotalAlloc, which only grows).
func allocated() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// hostBudget is how much the host may allocate for one hostile call in these
// tests: far above what the sandbox needs (a few MiB), far below what the
// attacks took before their fixes (1 GB for the table, 178 MB to 800 MB for
// the stack, 34 GB for the locals).
const hostBudget = 64 << 20

// TestCompileBombsAreRefused: modules that declare 2^32-1 or 100 M locals
// in one function are refused by their shape, before wazero compiles them
// (which allocated 34 GB, or 2.5 GB for 10 s).
func TestCompileBombsAreRefused(t *testing.T) {
	h := newHost(t, nil)
	for _, locals := range []uint32{1<<32 - 1, 100_000_000} {
		bomb := testwasm.LocalsBomb(locals)
		before := allocated()
		_, err := h.Load(context.Background(), sandbox.Spec{Vault: "Bomb", Wasm: bomb})
		grew := allocated() - before
		se := wantStatus(t, err, abi.InvalidArgument)
		want := "module refused before compiling: code section: function 0 declares " + itoa(locals) + " locals, over the limit of 50000"
		if se.Message != want {
			t.Errorf("%d locals (a module of %d bytes): message %q, want %q", locals, len(bomb), se.Message, want)
		}
		if grew > hostBudget {
			t.Errorf("%d locals: refusing the module allocated %d MB", locals, grew>>20)
		}
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

// TestTableGrowthCountsAgainstTheMemoryGrant: a vault granted 2 MiB asks
// for 2^27 more table entries (1 GiB of host memory, which it used to get),
// then for 4096 at a time. The big grow returns -1 and the small ones stop at
// 2 MiB / 8 bytes an entry.
func TestTableGrowthCountsAgainstTheMemoryGrant(t *testing.T) {
	h := newHost(t, nil)
	const grant = 2 << 20
	m := load(t, h, sandbox.Spec{Vault: "Tables", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/tablegrow.wat"), Memory: grant})
	before := allocated()
	out, err := m.Call(context.Background(), abi.OpGet, []byte("x"))
	grew := allocated() - before
	if grew > hostBudget {
		t.Errorf("the host allocated %d MB for a vault granted 2 MiB", grew>>20)
	}
	if err != nil {
		t.Fatal(err)
	}
	first, size := int32(binary.LittleEndian.Uint32(out)), binary.LittleEndian.Uint32(out[4:])
	t.Logf("table.grow(2^27) = %d; table size after the small grows: %d; the call allocated %d KiB", first, size, grew>>10)
	if first != -1 {
		t.Errorf("table.grow of 2^27 entries returned %d, want -1", first)
	}
	if size > grant/8 || size < grant/8-4096 {
		t.Errorf("the table grew to %d entries, want the grant's %d", size, grant/8)
	}
}

// TestRecursionCountsAgainstTheMemoryGrant: a vault granted 4 MiB recurses
// without bound. It traps, naming the stack, long before it takes the 178 MB
// it used to (wazero's own ceiling is 400 MB); its instance is discarded and
// the next call gets a fresh one, and another vault answers throughout.
// Under -interpret, the interpreter's own ceiling of 2000 calls traps first.
func TestRecursionCountsAgainstTheMemoryGrant(t *testing.T) {
	h := newHost(t, nil)
	m := load(t, h, sandbox.Spec{Vault: "Recurse", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/recurse.wat"), Memory: 4 << 20, Instances: 1})
	echo := load(t, h, sandbox.Spec{Vault: "Echo", Wasm: testwasm.WAT(t, "engine/internal/sandbox/testdata/echo.wat")})
	calls := func() uint32 {
		t.Helper()
		out, err := m.Call(context.Background(), abi.OpStat, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		return binary.LittleEndian.Uint32(out)
	}
	if n := calls(); n != 1 {
		t.Fatalf("stat = %d, want 1", n)
	}

	before := allocated()
	_, err := m.Call(context.Background(), abi.OpGet, []byte("x"))
	grew := allocated() - before
	t.Logf("%v; the call allocated %d KiB", err, grew>>10)
	se := wantStatus(t, err, abi.Internal)
	want := "extension trapped in sesame_get: out of stack (calls nested past the limit of 512 KiB that its memory grant sets)"
	if *interpret { // wazero's interpreter traps first, past 2000 nested calls (Spec.Interpret)
		want = "extension trapped in sesame_get: wasm error: stack overflow"
	}
	if se.Message != want {
		t.Errorf("message %q, want %q", se.Message, want)
	}
	if grew > hostBudget {
		t.Errorf("the host allocated %d MB for a vault granted 4 MiB", grew>>20)
	}
	if n := calls(); n != 1 {
		t.Errorf("after the trap: stat = %d, want 1 (a fresh instance)", n)
	}
	if out, err := echo.Call(context.Background(), abi.OpGet, []byte("still here")); err != nil || string(out) != "still here" {
		t.Errorf("the other vault: %q, %v", out, err)
	}
}

// TestShapeRefusals: modules refused at load for their shape, each with the
// section and the cause. The first two try to reach what the stack's
// instrumentation adds (a body moved past the wrappers, which would run
// uncounted, and the budget's global): the indices do not exist in the
// module as written, and so it is refused.
func TestShapeRefusals(t *testing.T) {
	h := newHost(t, nil)
	const head = `(module
  (import "sesame_v1" "output" (func $output (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "sesame_abi_v1"))
  (func (export "sesame_manifest") (result i32) (i32.const 0))
`
	cases := []struct {
		name, src, want string
		memory          uint64
	}{
		// Functions: output 0, marker 1, manifest 2, get 3; get's body
		// would move to 1 + 3 + 2 = 6.
		{"a call of a moved body", head + `(func (export "sesame_get") (param i32) (result i32) (call 6 (local.get 0))))`,
			"code section: function 2: function 6 does not exist", 0},
		{"the stack budget's global", head + `(func (export "sesame_get") (param i32) (result i32) (global.set 0 (i32.const 0x7fffffff)) (i32.const 0)))`,
			"code section: function 2: global 0 does not exist", 0},
		{"a table larger than the grant", head + `(table 300000 funcref))`,
			"table section: tables of 300000 entries at the start, more than the 262144 that the memory grant allows (8 bytes an entry)", 2 << 20},
		{"the reserved export", head + `(global (export "sesame_host_stack") i32 (i32.const 0)))`,
			"export section: the names sesame_host_stack, sesame_host_stop and sesame_host_start are reserved for the host", 0},
		{"the stop global's export", head + `(func (export "sesame_host_stop")))`,
			"export section: the names sesame_host_stack, sesame_host_stop and sesame_host_start are reserved for the host", 0},
		{"the start function's export", head + `(func (export "sesame_host_start")))`,
			"export section: the names sesame_host_stack, sesame_host_stop and sesame_host_start are reserved for the host", 0},
		{"an instruction of a proposal the host does not enable", head + `(func (export "sesame_get") (param i32) (result i32) (return_call 3 (local.get 0))))`,
			"code section: function 2: unknown instruction 0x12", 0},
	}
	for _, c := range cases {
		_, err := h.Load(context.Background(), sandbox.Spec{Vault: "Shape", Wasm: testwasm.WATSource(t, c.src, "--no-check", "--enable-tail-call"), Memory: c.memory})
		se := wantStatus(t, err, abi.InvalidArgument)
		if !strings.HasPrefix(se.Message, "module refused before compiling: "+c.want) {
			t.Errorf("%s: %q, want %q", c.name, se.Message, c.want)
		}
	}
}
