package sandbox

import "fmt"

// code reads instructions up to the end that closes the function body or
// the initializer expression at r, skipping their immediates, and returns
// how many blocks, loops and ifs it holds. It records where each loop's
// body starts (p.loops), for the instrumentation's stop check. It checks each index of a
// function (call, ref.func) and of a global (global.get, global.set)
// against those the module has: the instrumentation (instrument.go) adds a
// global and functions past them, and a module must not reach those.
//
// It knows the instructions of the features the host enables (WebAssembly
// 2.0: bulk memory, reference types, multiple values, SIMD, sign extension,
// saturating conversions) and refuses any other opcode, so that it never
// reads an instruction's immediates differently from wazero.
func (p *parser) code(r *reader, constant bool) (blocks uint64, err error) {
	depth := 1
	for {
		op, err := r.byte()
		if err != nil {
			return 0, err
		}
		switch {
		case op == 0x0b: // end
			if depth--; depth == 0 {
				return blocks, nil
			}
		case op == 0x02 || op == 0x03 || op == 0x04: // block, loop, if
			if constant {
				return 0, fmt.Errorf("instruction 0x%02x in a constant expression", op)
			}
			blocks++
			depth++
			if err = p.blockType(r); err == nil && op == 0x03 {
				p.loops = append(p.loops, r.off)
			}
		case op <= 0x01 || op == 0x05 || op == 0x0f || op == 0x1a || op == 0x1b || op == 0xd1 || (op >= 0x45 && op <= 0xc4):
			// no immediate
		case op == 0x0c || op == 0x0d || (op >= 0x20 && op <= 0x22) || op == 0x25 || op == 0x26: // br, br_if, local.*, table.get/set
			_, err = r.u32()
		case op == 0x0e: // br_table: labels, then the default
			var n uint32
			if n, err = r.u32(); err == nil {
				err = skipU32s(r, uint64(n)+1)
			}
		case op == 0x10 || op == 0xd2: // call, ref.func
			err = p.funcIndex(r)
		case op == 0x11: // call_indirect: type, table
			if err = p.typeIndex(r); err == nil {
				_, err = r.u32()
			}
		case op == 0x1c: // select with types
			err = vector(r, maxTypeValues, "types in a select", func() error { return valType(r) })
		case op == 0x23 || op == 0x24: // global.get, global.set
			err = p.globalIndex(r)
		case op >= 0x28 && op <= 0x3e: // loads and stores
			err = skipU32s(r, 2)
		case op == 0x3f || op == 0x40 || op == 0xd0: // memory.size, memory.grow, ref.null
			_, err = r.byte()
		case op == 0x41:
			_, err = r.leb(5, 32, true)
		case op == 0x42:
			_, err = r.leb(10, 64, true)
		case op == 0x43:
			_, err = r.bytes(4)
		case op == 0x44:
			_, err = r.bytes(8)
		case op == 0xfc:
			err = miscImmediates(r)
		case op == 0xfd:
			err = vectorImmediates(r)
		default:
			return 0, fmt.Errorf("unknown instruction 0x%02x at offset %d", op, r.off-1)
		}
		if err != nil {
			return 0, err
		}
	}
}

// blockType reads the type of a block, loop or if: empty (0x40), one value
// type, or the index of a function type.
func (p *parser) blockType(r *reader) error {
	if r.off < len(r.b) {
		switch r.b[r.off] {
		case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
			r.off++
			return nil
		}
	}
	start := r.off
	v, err := r.leb(5, 33, true)
	if err == nil && (int64(v<<31)>>31 < 0 || v >= uint64(len(p.types))) {
		err = fmt.Errorf("bad block type at offset %d", start)
	}
	return err
}

func skipU32s(r *reader, n uint64) error {
	for range n {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// miscImmediates skips the immediates of an instruction with prefix 0xfc:
// saturating conversions (0–7, none), bulk memory and tables (8–17).
func miscImmediates(r *reader) error {
	op, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case op <= 7:
		return nil
	case op == 9 || op == 11 || op == 13 || op == 15 || op == 16 || op == 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
		return skipU32s(r, 1)
	case op <= 14: // memory.init, memory.copy, table.init, table.copy
		return skipU32s(r, 2)
	}
	return fmt.Errorf("unknown instruction 0xfc %d at offset %d", op, r.off)
}

// vectorImmediates skips the immediates of an instruction with prefix 0xfd
// (SIMD).
func vectorImmediates(r *reader) error {
	op, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case op <= 11 || op == 92 || op == 93: // loads and stores
		return skipU32s(r, 2)
	case op == 12 || op == 13: // v128.const, i8x16.shuffle
		_, err = r.bytes(16)
	case op >= 21 && op <= 34: // extract and replace lane
		_, err = r.byte()
	case op >= 84 && op <= 91: // load and store lane
		if err = skipU32s(r, 2); err == nil {
			_, err = r.byte()
		}
	case op > 255:
		err = fmt.Errorf("unknown instruction 0xfd %d at offset %d", op, r.off)
	}
	return err
}
