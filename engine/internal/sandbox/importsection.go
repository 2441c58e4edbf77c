package sandbox

import "encoding/binary"

// wasmImport is one entry of a module's import section.
type wasmImport struct {
	module, name string
	kind         byte // importFunc, importTable, …
}

// The import kinds of the WebAssembly binary format (§5.5.5).
const (
	importFunc   = 0x00
	importTable  = 0x01
	importMemory = 0x02
	importGlobal = 0x03
	importTag    = 0x04
)

var importKindNames = [...]string{"a function", "a table", "a memory", "a global", "a tag"}

// kindName names an import kind for messages.
func kindName(kind byte) string {
	if int(kind) < len(importKindNames) {
		return importKindNames[kind]
	}
	return "an import of unknown kind"
}

// wasmImports reads the import section of a module, which wazero's
// CompiledModule lists only for functions and memories: a table or a global
// imported under the name of a host function would otherwise fail only as
// the instance starts. wasm has compiled, so it is well formed; reading
// stops quietly at anything unexpected.
func wasmImports(wasm []byte) []wasmImport {
	var out []wasmImport
	eachImport(wasm, func(im wasmImport) bool {
		out = append(out, im)
		return true
	})
	return out
}

// eachImport calls f with each entry of the import section of wasm, in
// order, until f returns false. wasm may not be well formed: reading stops
// quietly at anything unexpected.
func eachImport(wasm []byte, f func(wasmImport) bool) {
	r := wasmReader{b: wasm}
	r.skip(8) // magic and version
	for r.ok() && len(r.b) > 0 {
		id := r.byte()
		size := r.leb()
		if !r.ok() || uint64(len(r.b)) < size {
			return
		}
		if id == 2 {
			(&wasmReader{b: r.b[:size]}).imports(f)
			return
		}
		r.skip(size)
	}
}

func (r *wasmReader) imports(f func(wasmImport) bool) {
	n := r.leb()
	for i := uint64(0); i < n && r.ok(); i++ {
		im := wasmImport{module: r.name(), name: r.name(), kind: r.byte()}
		switch im.kind {
		case importFunc:
			r.leb()
		case importTable:
			r.byte()
			r.limits()
		case importMemory:
			r.limits()
		case importGlobal:
			r.skip(2) // value type, mutability
		case importTag:
			r.byte()
			r.leb()
		default:
			r.err = true
		}
		if r.ok() && !f(im) {
			return
		}
	}
}

// wasmReader reads the parts of the binary format that wasmImports needs.
type wasmReader struct {
	b   []byte
	err bool
}

func (r *wasmReader) ok() bool { return !r.err }

func (r *wasmReader) skip(n uint64) {
	if uint64(len(r.b)) < n {
		r.err, r.b = true, nil
		return
	}
	r.b = r.b[n:]
}

func (r *wasmReader) byte() byte {
	if len(r.b) == 0 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// leb reads an unsigned LEB128 number, which is Go's uvarint.
func (r *wasmReader) leb() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wasmReader) name() string {
	n := r.leb()
	if uint64(len(r.b)) < n {
		r.err, r.b = true, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *wasmReader) limits() {
	if flags := r.byte(); flags&1 != 0 {
		r.leb()
		r.leb()
		return
	}
	r.leb()
}
