package sandbox

import (
	"fmt"
	"math"
)

// Tables and the call stack are memory the host allocates for a guest
// outside its linear memory, so wazero's memory limit does not count them: a
// table.grow of 2^27 entries by a vault granted 2 MiB took 1 GB, and deep
// recursion by a vault granted 4 MiB took 178 MB of stack (wazero grows a
// call stack up to a fixed 400 MB). And a call must end at its deadline.
// instrument rewrites a module, before it is compiled, so that both
// memories count against the vault's memory grant and the host can stop it:
//
//   - Every table the module defines gets a maximum: together they may hold
//     grant/tableEntryBytes entries. A table.grow past it returns -1, as the
//     specification says; a module whose tables start larger is refused.
//   - Every function the module defines is replaced, at the same index, by a
//     wrapper of the same type that checks the stop global (below), takes
//     the function's frame weight from a new global, traps once the global
//     would go below zero, calls the original body (moved to an index past
//     the others) and gives the weight back. Calls, tables, exports and the
//     start function refer to indices, so they all go through the wrappers
//     without a change to any body; parseShape has checked that no code
//     refers to the moved bodies or the new globals. Imported functions are
//     host functions and are not wrapped.
//   - The start function, if any, is no longer one: it is exported as
//     startExport, and the host calls it once the instance exists, before
//     anything else (instance.go), as wazero would have, but under the stop
//     global, which the host cannot reach while wazero instantiates.
//   - The body of every loop starts with a check, and so does every
//     wrapper; the bodies are otherwise copied byte for byte. The check
//     counts down a third new global, fuel; when it reaches zero, it fills
//     it again and returns to the host for an instant (memory.grow of 0
//     pages, which wazero runs in Go), then traps if a second new global,
//     stop, is set. The host sets stop when a call's context ends (its
//     deadline, a cancel, the host closing). A guest can only run on
//     without end through a loop or a call (a recursion, which the stack
//     budget keeps finite in depth but not in breadth), and both check.
//     The return to Go is what lets Go's scheduler stop the goroutine for
//     the garbage collector: machine code that never leaves would hold up
//     every stop-the-world pause of the process, and with it the timer
//     that sets stop.
//
// The checks replace wazero's WithCloseOnContextDone, which checks at the
// same places through a call into Go each time (a tight loop ran about 25
// times slower, a Go guest's code about 12) and starts a goroutine per call
// to watch the context (RATIONALE.md, "Stopping a guest").
//
// The sha256 pin is checked on the module as given, before this rewrite.
// The name section is kept: its names now name the wrappers, which stand for
// the functions they call.

// tableEntryBytes is what one table entry costs wazero (a pointer).
const tableEntryBytes = 8

// stackExport is the name under which the instrumented module exports the
// stack budget's global, so that the host can tell a trap for running out
// of stack from the guest's own unreachable: the wrapper sets the global to
// stackExhausted before it traps.
const (
	stackExport    = "sesame_host_stack"
	stackExhausted = math.MaxUint32
)

// stopExport is the name under which the instrumented module exports the
// stop global, which the host sets to stop a call (instance.go).
// fuelChecks is how many checks pass between two returns to the host.
const (
	stopExport = "sesame_host_stop"
	fuelChecks = 4096
)

// startExport is the name under which the instrumented module exports its
// start function, which the host then calls itself (instance.go).
const startExport = "sesame_host_start"

// stackBudget is the weight of the frames that may be on the call stack at
// once, in bytes: an eighth of the memory grant, at least 256 KiB (the
// smallest grant, 2 MiB) and at most 64 MiB.
func stackBudget(memory uint64) uint32 {
	return uint32(min(max(memory/8, 256<<10), 64<<20))
}

// frameWeight is what one call of a function counts against the stack
// budget: an estimate, in bytes, of the frame wazero's compiler gives it,
// which grows with its parameters and locals (16 bytes each: a SIMD value)
// and with its code (spill slots for the values live across a call). It is
// an estimate, not a bound, since only decoding every instruction would
// tell a frame's size. Measured: a one-parameter function recursing weighs
// 85 and takes about 100 bytes of stack a level with its wrapper (the host
// allocated 1.3 MB, doublings included, for a 4 MiB grant, against 161 MB
// before); one built for big frames (2,000 SIMD values live across its
// recursive call) takes about 8 times its weight, and the host allocated
// 10 MB for the same grant. Go guests nest little on wazero's stack (their
// goroutine stacks live in linear memory): the secretstore runs under a
// grant of 4 MiB and the Go example under 3 MiB, as they did before.
func frameWeight(params uint32, locals uint64, code int) uint32 {
	return uint32(64 + 16*(uint64(params)+locals) + uint64(code)/4)
}

// instrument returns wasm, whose shape is s, with its tables bounded and its
// stack counted for a memory grant of memory bytes.
func instrument(wasm []byte, s *shape, memory uint64) ([]byte, error) {
	tables, err := s.boundTables(wasm, memory/tableEntryBytes)
	if err != nil {
		return nil, err
	}
	if s.exportsHost {
		return nil, fmt.Errorf("export section: the names %s, %s and %s are reserved for the host", stackExport, stopExport, startExport)
	}
	defined := uint32(len(s.funcTypes))
	stack := s.globals // the index of the new globals: the stack budget, stop, fuel
	var pending []section
	if defined > 0 {
		pending = []section{{id: secGlobal}, {id: secExport}}
	}
	var wrappers []byte
	if defined > 0 {
		wrappers = s.wrappers(stack, memory)
	}
	// What the rewrite adds, so that out is allocated once: the wrappers,
	// the loops' checks, the doubled function section and the bodies'
	// longer sizes (at most 5 bytes a function each), the bounded tables,
	// and the new globals and exports with their sections' headers.
	grows := len(wrappers) + len(s.loops)*len(s.check(nil, stack+1)) + 10*int(defined) + len(tables) + 512
	out := append(make([]byte, 0, len(wasm)+grows), wasm[:8]...)
	for _, sec := range s.sections {
		payload := wasm[sec.start:sec.end]
		if sec.id != secCustom {
			for len(pending) > 0 && sectionRank[pending[0].id] < sectionRank[sec.id] {
				out = appendSection(out, pending[0].id, s.addition(pending[0].id, nil, stack, memory))
				pending = pending[1:]
			}
			if len(pending) > 0 && pending[0].id == sec.id {
				payload = s.addition(sec.id, payload, stack, memory)
				pending = pending[1:]
			}
		}
		switch {
		case sec.id == secStart && defined > 0:
			continue // exported as startExport instead
		case sec.id == secTable && tables != nil:
			payload = tables
		case sec.id == secFunction && defined > 0:
			rest := payload[lebLen(payload):]
			payload = append(append(appendU32(nil, 2*defined), rest...), rest...)
		case sec.id == secCode && defined > 0:
			out = s.appendCode(out, wasm, wrappers, stack)
			continue
		}
		out = appendSection(out, sec.id, payload)
	}
	for _, p := range pending {
		out = appendSection(out, p.id, s.addition(p.id, nil, stack, memory))
	}
	return out, nil
}

// boundTables returns the table section with a maximum for every table, so
// that they hold at most entries entries together: each may grow by an equal
// share of what their initial sizes leave.
func (s *shape) boundTables(wasm []byte, entries uint64) ([]byte, error) {
	var mins uint64
	var defined []table
	for _, t := range s.tables {
		if t.limits >= 0 {
			defined = append(defined, t)
			mins += uint64(t.min)
		}
	}
	if len(defined) == 0 {
		return nil, nil
	}
	if mins > entries {
		return nil, fmt.Errorf("table section: tables of %d entries at the start, more than the %d that the memory grant allows (%d bytes an entry)", mins, entries, tableEntryBytes)
	}
	share := (entries - mins) / uint64(len(defined))
	out := appendU32(nil, uint32(len(defined)))
	for _, t := range defined {
		out = append(out, wasm[t.limits-1]) // the reference type
		out = appendU32(appendU32(append(out, 1), t.min), uint32(min(uint64(t.max), uint64(t.min)+share)))
	}
	return out, nil
}

// addition returns the global or export section payload with the stack
// budget's, stop and fuel globals added, or the exports of the first two
// and of the start function.
func (s *shape) addition(id byte, payload []byte, stack uint32, memory uint64) []byte {
	var n uint32
	if len(payload) > 0 {
		r := &reader{b: payload}
		n, _ = r.u32() // parseShape has read it
		payload = payload[r.off:]
	}
	if id == secGlobal {
		out := append(appendU32(nil, n+3), payload...)
		out = append(appendS32(append(out, 0x7f, 0x01, 0x41), int32(stackBudget(memory))), 0x0b)
		out = append(out, 0x7f, 0x01, 0x41, 0x00, 0x0b)                           // stop: a mutable i32, 0
		return append(appendS32(append(out, 0x7f, 0x01, 0x41), fuelChecks), 0x0b) // fuel
	}
	added := uint32(2)
	if s.hasStart {
		added++
	}
	out := append(appendU32(nil, n+added), payload...)
	if s.hasStart {
		out = append(appendU32(out, uint32(len(startExport))), startExport...)
		out = appendU32(append(out, 0x00), s.start)
	}
	out = append(appendU32(out, uint32(len(stackExport))), stackExport...)
	out = appendU32(append(out, 0x03), stack)
	out = append(appendU32(out, uint32(len(stopExport))), stopExport...)
	return appendU32(append(out, 0x03), stack+1)
}

// wrappers returns the start of the code section's payload: its count of
// functions, then a wrapper for each function (see instrument).
func (s *shape) wrappers(stack uint32, memory uint64) []byte {
	defined := uint32(len(s.funcTypes))
	stop := stack + 1
	out := appendU32(make([]byte, 0, 8+int(defined)*56), 2*defined)
	var w []byte
	for i, t := range s.funcTypes {
		params := s.types[t].params
		weight := frameWeight(params, s.bodies[i].locals, s.bodies[i].end-s.bodies[i].start)
		w = append(w[:0], 0x00) // no locals
		w = s.check(w, stop)
		w = s.take(w, stack, weight)
		for k := range params {
			w = appendU32(append(w, 0x20), k) // local.get
		}
		w = appendU32(append(w, 0x10), s.importedFuncs+defined+uint32(i)) // call the body
		w = appendU32(append(w, 0x23), stack)                             // global.get
		w = appendS32(append(w, 0x41), int32(weight))                     // i32.const
		w = appendU32(append(w, 0x6a, 0x24), stack)                       // i32.add, global.set
		w = append(w, 0x0b)
		out = append(appendU32(out, uint32(len(w))), w...)
	}
	return out
}

// appendCode appends to out the code section of wasm: wrappers, then the
// original bodies, each loop of which now starts with a check. It writes
// the section in place, its size counted first, rather than building the
// payload apart and copying it: a one-shot command pays for each fresh page
// of memory it touches (a fault), and this is the largest part of the
// module.
func (s *shape) appendCode(out, wasm, wrappers []byte, stack uint32) []byte {
	check := s.check(nil, stack+1)
	size := len(wrappers)
	loops := s.loops
	for _, b := range s.bodies {
		n := loopsBefore(loops, b.end)
		body := b.end - b.start + n*len(check)
		size += u32Len(uint32(body)) + body
		loops = loops[n:]
	}
	out = append(appendU32(append(out, secCode), uint32(size)), wrappers...)
	loops = s.loops
	for _, b := range s.bodies {
		n := loopsBefore(loops, b.end)
		out = appendU32(out, uint32(b.end-b.start+n*len(check)))
		from := b.start
		for _, at := range loops[:n] {
			out = append(append(out, wasm[from:at]...), check...)
			from = at
		}
		out = append(out, wasm[from:b.end]...)
		loops = loops[n:]
	}
	return out
}

// u32Len is the length of v in LEB128.
func u32Len(v uint32) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// loopsBefore counts the offsets at the start of loops that are before end.
func loopsBefore(loops []int, end int) int {
	n := 0
	for n < len(loops) && loops[n] < end {
		n++
	}
	return n
}

// check appends the code that counts down the fuel global (stop+1) and,
// when it is out, fills it, returns to the host for an instant and traps if
// the stop global is set. (A module without a memory has no memory.grow; it
// is refused once compiled, before it runs.)
func (s *shape) check(w []byte, stop uint32) []byte {
	fuel := stop + 1
	w = appendU32(append(w, 0x23), fuel)                   // global.get
	w = appendU32(append(w, 0x04, 0x40, 0x23), fuel)       // if, global.get
	w = appendU32(append(w, 0x41, 0x01, 0x6b, 0x24), fuel) // i32.const 1, i32.sub, global.set
	w = appendS32(append(w, 0x05, 0x41), fuelChecks)       // else, i32.const
	w = appendU32(append(w, 0x24), fuel)                   // global.set
	if s.memories > 0 {
		w = append(w, 0x41, 0x00, 0x40, 0x00, 0x1a) // i32.const 0, memory.grow, drop
	}
	w = appendU32(append(w, 0x23), stop)           // global.get
	return append(w, 0x04, 0x40, 0x00, 0x0b, 0x0b) // if, unreachable, end, end
}

// take appends the code that takes weight from the stack global, or sets it
// to stackExhausted and traps when less is left.
func (s *shape) take(w []byte, stack, weight uint32) []byte {
	w = appendU32(append(w, 0x23), stack)          // global.get
	w = appendS32(append(w, 0x41), int32(weight))  // i32.const
	w = append(w, 0x49, 0x04, 0x40)                // i32.lt_u, if
	w = appendS32(append(w, 0x41), -1)             // i32.const stackExhausted
	w = appendU32(append(w, 0x24), stack)          // global.set
	w = append(w, 0x00, 0x0b)                      // unreachable, end
	w = appendU32(append(w, 0x23), stack)          // global.get
	w = appendS32(append(w, 0x41), int32(weight))  // i32.const
	return appendU32(append(w, 0x6b, 0x24), stack) // i32.sub, global.set
}

func appendSection(out []byte, id byte, payload []byte) []byte {
	return append(appendU32(append(out, id), uint32(len(payload))), payload...)
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// lebLen is the length of the LEB128 number at the start of b.
func lebLen(b []byte) int {
	n := 0
	for n < len(b) && b[n]&0x80 != 0 {
		n++
	}
	return n + 1
}
