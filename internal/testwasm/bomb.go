package testwasm

// LocalsBomb returns a module of the sesame ABI's shape (a memory and the
// marker export) whose one function declares locals i32 locals: 2^32-1 made
// wazero's compiler allocate 34 GB, 100 M took 2.5 GB and 10 s. The module
// is a few dozen bytes; no assembler can write it, as WAT lists locals one
// by one.
func LocalsBomb(locals uint32) []byte {
	var m []byte
	section := func(id byte, payload ...byte) {
		m = append(append(append(m, id), uleb(uint32(len(payload)))...), payload...)
	}
	m = append(m, "\x00asm\x01\x00\x00\x00"...)
	section(1, 1, 0x60, 0, 0) // one type: () -> ()
	section(3, 1, 0)          // one function of type 0
	section(5, 1, 0, 1)       // one memory of one page
	exports := []byte{2, 6}
	exports = append(exports, "memory"...)
	exports = append(exports, 2, 0, 13)
	exports = append(exports, "sesame_abi_v1"...)
	section(7, append(exports, 0, 0)...)
	body := append(append([]byte{1}, uleb(locals)...), 0x7f, 0x0b) // locals of i32, end
	section(10, append(append([]byte{1}, uleb(uint32(len(body)))...), body...)...)
	return m
}

func uleb(v uint32) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
