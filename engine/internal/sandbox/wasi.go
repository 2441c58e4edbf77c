package sandbox

import (
	"context"
	"crypto/rand"
	"io"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/sesamehq/sesame/internal/testonly"
)

// wasiModule is the import module of WASI preview 1.
const wasiModule = wasi_snapshot_preview1.ModuleName

// The host's own WASI functions: the few that a small C guest imports
// (wasi-libc's clock, random and exit), for a runtime whose modules import
// no other WASI function. wazero's WASI module has all 46 of preview 1, and
// every host function costs a compiled trampoline in every new runtime,
// which a one-shot command pays for each vault it opens (the builtin
// secretstore imports two); wazero lets no one pick a subset of its module,
// whose functions reach the instance's clocks and random source through
// its internals. So these are written again, to do exactly what wazero's do
// under moduleConfig (TestOwnWASIMatchesWazero compares them): the real
// clocks, or the tests' fake clock, and the operating system's random
// source. A runtime whose modules import any other WASI function gets
// wazero's whole module instead (runtimeKey).
var ownWASI = map[string]hostFunc{
	"clock_res_get":  {wasiClockResGet, vt(i32, i32), vt(i32)},
	"clock_time_get": {wasiClockTimeGet, vt(i32, i64, i32), vt(i32)},
	"random_get":     {wasiRandomGet, vt(i32, i32), vt(i32)},
	"proc_exit":      {wasiProcExit, vt(i32), nil},
	"sched_yield":    {wasiSchedYield, nil, vt(i32)},
}

// WASI's errno values (preview 1), as wazero returns them.
const (
	wasiFault = 21
	wasiInval = 28
	wasiIO    = 29
)

// WASI's clock identifiers: the others (process and thread CPU time) are
// refused with EINVAL, as by wazero.
const (
	wasiRealtime  = 0
	wasiMonotonic = 1
)

// monotonicEpoch is the origin of the monotonic clock of the own WASI
// functions, which WASI leaves open.
var monotonicEpoch = time.Now()

// guestClock reads the clock id as the guest sees it, with its resolution:
// the clocks of moduleConfig (wazero's WithSysWalltime, of 1 µs resolution,
// and WithSysNanotime, of 1 ns), or the tests' fake clock
// (internal/testonly) at a resolution of 1 ns. The monotonic clock never
// reads zero, which a Go runtime takes for a broken clock. ok is false for
// any other id.
func guestClock(id uint32) (ns int64, resolution uint64, ok bool) {
	switch {
	case id != wasiRealtime && id != wasiMonotonic:
		return 0, 0, false
	case testonly.Faked():
		return testonly.Now().UnixNano(), 1, true
	case id == wasiRealtime:
		return time.Now().UnixNano(), uint64(time.Microsecond), true
	}
	return int64(time.Since(monotonicEpoch)) + 1, 1, true
}

// wasiClockResGet is clock_res_get(id, result.resolution) -> errno.
func wasiClockResGet(_ context.Context, mod api.Module, stack []uint64) {
	_, res, ok := guestClock(api.DecodeU32(stack[0]))
	stack[0] = wasiWrite(mod, ok, api.DecodeU32(stack[1]), res)
}

// wasiClockTimeGet is clock_time_get(id, precision, result.timestamp) ->
// errno; the precision is ignored.
func wasiClockTimeGet(_ context.Context, mod api.Module, stack []uint64) {
	ns, _, ok := guestClock(api.DecodeU32(stack[0]))
	stack[0] = wasiWrite(mod, ok, api.DecodeU32(stack[2]), uint64(ns))
}

// wasiWrite writes v at ptr and returns the errno: EINVAL when !ok, EFAULT
// when ptr is outside memory.
func wasiWrite(mod api.Module, ok bool, ptr uint32, v uint64) uint64 {
	switch {
	case !ok:
		return wasiInval
	case !mod.Memory().WriteUint64Le(ptr, v):
		return wasiFault
	}
	return 0
}

// wasiRandomGet is random_get(buf, buf_len) -> errno: the operating
// system's random source (wazero's default is a deterministic one).
func wasiRandomGet(_ context.Context, mod api.Module, stack []uint64) {
	n := api.DecodeU32(stack[1])
	buf, ok := mod.Memory().Read(api.DecodeU32(stack[0]), n)
	if !ok {
		stack[0] = wasiFault
		return
	}
	if _, err := io.ReadAtLeast(rand.Reader, buf, int(n)); err != nil {
		stack[0] = wasiIO
		return
	}
	stack[0] = 0
}

// wasiProcExit is proc_exit(rval): the instance is closed with the code,
// and the call fails with a sys.ExitError (instance.go's failure).
func wasiProcExit(ctx context.Context, mod api.Module, stack []uint64) {
	code := api.DecodeU32(stack[0])
	_ = mod.CloseWithExitCode(ctx, code)
	panic(sys.NewExitError(code))
}

// wasiSchedYield is sched_yield() -> errno: nothing to yield to, as under
// moduleConfig, which sets no WithOsyield.
func wasiSchedYield(_ context.Context, _ api.Module, stack []uint64) {
	stack[0] = 0
}

// instantiateWASI instantiates the WASI module of the runtime key k: the
// host's own functions that k names, or wazero's whole module.
func instantiateWASI(ctx context.Context, rt wazero.Runtime, k runtimeKey) error {
	if k.fullWASI {
		_, err := wasi_snapshot_preview1.Instantiate(ctx, rt)
		return err
	}
	return instantiateHostModule(ctx, rt, wasiModule, ownWASI, k.wants(wasiModule))
}
