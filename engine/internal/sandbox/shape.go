package sandbox

import (
	"errors"
	"fmt"
)

// A module's shape is checked before wazero sees it, because wazero's
// compiler trusts the counts a module declares: a 251-byte module declaring
// 2^32-1 locals in one function made it allocate 34 GB, and 100 M locals
// took 2.5 GB and 10 s on every load. CompileModule ignores its context, so
// no deadline can stop a compilation once it has started; these limits are
// the compilation's budget. Each is at least ten times what real guests
// need: in parentheses, the largest value measured over the built-in
// extensions (the secretstore, when it was a Go guest, was the largest),
// the example vaults in Go, C, AssemblyScript and WAT, and the test guests. The product of
// locals and blocks bounds the values the compiler's SSA form may need for
// one function (a local can take a new value at every block).
const (
	maxModuleBytes   = 32 << 20  // the whole module (secretstore: 3.2 MB)
	maxTypes         = 10_000    // type section entries (17)
	maxTypeValues    = 1_000     // parameters or results of one type
	maxImports       = 10_000    // import section entries (32)
	maxFunctions     = 100_000   // functions the module defines (2,167)
	maxTables        = 100       // tables, imported or defined (1)
	maxMemories      = 1         // memories, imported or defined
	maxGlobals       = 100_000   // globals, imported or defined
	maxExports       = 100_000   // export section entries
	maxElemSegments  = 100_000   // element segments (1)
	maxElemEntries   = 1_000_000 // function references in all element segments (6,263)
	maxDataSegments  = 1_000_000 // data segments (37,175)
	maxFuncLocals    = 50_000    // locals one function declares (22, in the C example)
	maxLocals        = 1_000_000 // locals all functions declare (8,659)
	maxBodyBytes     = 1 << 20   // the code of one function (29 KB)
	maxBlocks        = 100_000   // blocks, loops and ifs of one function (799)
	maxLocalsXBlocks = 1 << 22   // (parameters + locals) × blocks of one function (7,344)
)

// section IDs of the WebAssembly binary format.
const (
	secCustom = iota
	secType
	secImport
	secFunction
	secTable
	secMemory
	secGlobal
	secExport
	secStart
	secElement
	secCode
	secData
	secDataCount
)

var sectionNames = [...]string{"custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "data count"}

// sectionRank is the order in which the sections must appear: data count
// comes between element and code.
var sectionRank = [...]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10}

// shape is what the checks and the instrumentation need to know of a module.
// Offsets are into the module's bytes.
type shape struct {
	sections      []section
	types         []funcType
	funcTypes     []uint32 // the type of each function the module defines
	importedFuncs uint32
	globals       uint32 // imported and defined
	tables        []table
	bodies        []body
	loops         []int // after each loop's block type: where instrument checks the stop global
	exportsHost   bool  // an export has a name that instrument gives one of its own
	start         uint32
	hasStart      bool   // the module has a start function, start
	memories      uint32 // imported and defined
}

type section struct {
	id         byte
	start, end int // the payload, after the size
}

type funcType struct{ params, results uint32 }

// table is one table the module defines.
type table struct {
	limits   int    // offset of the limits' flag byte; -1 for an imported table
	min, max uint32 // max is the declared maximum, or 2^32-1 when none is
}

// body is the code of one function the module defines.
type body struct {
	start, end int    // from the locals' declarations to the final end
	locals     uint64 // locals declared, parameters not included
}

// shapeError reports a module that is malformed or past a limit.
type shapeError struct {
	section string
	msg     string
}

func (e *shapeError) Error() string { return e.section + " section: " + e.msg }

// parseShape reads the sections of a WebAssembly binary, checks every count
// and size against the limits above, and checks that code refers only to
// functions and globals that exist (the instrumentation adds some, which a
// module must not be able to reach). It allocates in proportion to the
// module's length at most, never to a count it declares, and never panics.
func parseShape(wasm []byte) (*shape, error) {
	if len(wasm) > maxModuleBytes {
		return nil, fmt.Errorf("module of %d bytes, over the limit of %d", len(wasm), maxModuleBytes)
	}
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" || string(wasm[4:8]) != "\x01\x00\x00\x00" {
		return nil, errors.New("not a WebAssembly 1.0 binary (bad magic number or version)")
	}
	p := &parser{shape: &shape{}}
	r := &reader{b: wasm, off: 8}
	last := 0
	for r.off < len(wasm) {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		if int(id) >= len(sectionNames) {
			return nil, fmt.Errorf("unknown section id %d at offset %d", id, r.off-1)
		}
		name := sectionNames[id]
		size, err := r.u32()
		if err != nil {
			return nil, &shapeError{name, "size: " + err.Error()}
		}
		if uint64(size) > uint64(len(wasm)-r.off) {
			return nil, &shapeError{name, fmt.Sprintf("size %d runs past the end of the module", size)}
		}
		s := section{id: id, start: r.off, end: r.off + int(size)}
		r.off = s.end
		if id != secCustom {
			if sectionRank[id] <= last {
				return nil, &shapeError{name, "out of order or repeated"}
			}
			last = sectionRank[id]
		}
		p.sections = append(p.sections, s)
		sr := &reader{b: wasm[:s.end], off: s.start}
		if err := p.section(id, sr); err != nil {
			var se *shapeError
			if errors.As(err, &se) {
				return nil, err
			}
			return nil, &shapeError{name, err.Error()}
		}
		if sr.off != s.end {
			return nil, &shapeError{name, fmt.Sprintf("%d bytes left over at offset %d", s.end-sr.off, sr.off)}
		}
	}
	if len(p.bodies) != len(p.funcTypes) {
		return nil, &shapeError{"code", fmt.Sprintf("%d bodies for %d functions", len(p.bodies), len(p.funcTypes))}
	}
	return p.shape, nil
}

// parser reads the sections of one module into its shape.
type parser struct {
	*shape
}

// funcs is the size of the function index space.
func (p *parser) funcs() uint32 { return p.importedFuncs + uint32(len(p.funcTypes)) }

func (p *parser) section(id byte, r *reader) error {
	switch id {
	case secCustom:
		_, err := r.name()
		r.off = len(r.b)
		return err
	case secType:
		return p.typeSection(r)
	case secImport:
		return p.importSection(r)
	case secFunction:
		return p.functionSection(r)
	case secTable:
		return vector(r, maxTables-len(p.tables), "tables", func() error { return p.tableType(r, true) })
	case secMemory:
		return vector(r, int(maxMemories-p.memories), "memories", func() error { p.memories++; _, _, err := limits(r); return err })
	case secGlobal:
		return vector(r, maxGlobals-int(p.globals), "globals", func() error {
			if err := globalType(r); err != nil {
				return err
			}
			// A global's initializer may refer only to the globals before it.
			err := p.constExpr(r)
			p.globals++
			return err
		})
	case secExport:
		return p.exportSection(r)
	case secStart:
		start := r.off
		err := p.funcIndex(r)
		if err == nil {
			p.start, _ = (&reader{b: r.b, off: start}).u32()
			p.hasStart = true
		}
		return err
	case secElement:
		return p.elementSection(r)
	case secDataCount:
		_, err := r.u32()
		return err
	case secCode:
		return p.codeSection(r)
	case secData:
		return p.dataSection(r)
	}
	return nil
}

// vector reads a count no larger than max, then calls item that many times.
func vector(r *reader, limit int, what string, item func() error) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	if uint64(n) > uint64(max(limit, 0)) {
		return fmt.Errorf("%d %s, over the limit of %d", n, what, limit)
	}
	for range n {
		if err := item(); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) typeSection(r *reader) error {
	return vector(r, maxTypes, "types", func() error {
		if b, err := r.byte(); err != nil {
			return err
		} else if b != 0x60 {
			return fmt.Errorf("type %d is not a function type (0x%02x)", len(p.types), b)
		}
		var t funcType
		for _, n := range []*uint32{&t.params, &t.results} {
			if err := vector(r, maxTypeValues, "parameters or results in one type", func() error { *n++; return valType(r) }); err != nil {
				return err
			}
		}
		p.types = append(p.types, t)
		return nil
	})
}

func (p *parser) importSection(r *reader) error {
	return vector(r, maxImports, "imports", func() error {
		for range 2 {
			if _, err := r.name(); err != nil {
				return err
			}
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0:
			if err := p.typeIndex(r); err != nil {
				return err
			}
			p.importedFuncs++
			if p.importedFuncs > maxImports {
				return fmt.Errorf("more than %d imported functions", maxImports)
			}
		case 1:
			if len(p.tables) >= maxTables {
				return fmt.Errorf("more than %d tables", maxTables)
			}
			return p.tableType(r, false)
		case 2:
			if p.memories++; p.memories > maxMemories {
				return fmt.Errorf("more than %d memory", maxMemories)
			}
			_, _, err = limits(r)
		case 3:
			p.globals++
			err = globalType(r)
		default:
			err = fmt.Errorf("import of unknown kind %d", kind)
		}
		return err
	})
}

func (p *parser) functionSection(r *reader) error {
	return vector(r, maxFunctions, "functions", func() error {
		t, err := r.u32()
		if err == nil && t >= uint32(len(p.types)) {
			err = fmt.Errorf("function %d has type %d, which does not exist", len(p.funcTypes), t)
		}
		p.funcTypes = append(p.funcTypes, t)
		return err
	})
}

func (p *parser) typeIndex(r *reader) error {
	t, err := r.u32()
	if err == nil && t >= uint32(len(p.types)) {
		err = fmt.Errorf("type %d does not exist", t)
	}
	return err
}

// tableType reads a table's reference type and limits; a defined table is
// kept, for the instrumentation to bound. An imported one is counted only:
// no host module exports a table, so it cannot be linked.
func (p *parser) tableType(r *reader, defined bool) error {
	if b, err := r.byte(); err != nil {
		return err
	} else if b != 0x70 && b != 0x6f {
		return fmt.Errorf("table of unknown type 0x%02x", b)
	}
	t := table{limits: r.off}
	var err error
	t.min, t.max, err = limits(r)
	if defined {
		p.tables = append(p.tables, t)
	} else {
		p.tables = append(p.tables, table{limits: -1})
	}
	return err
}

// limits reads a table's or memory's limits; max is 2^32-1 when none is
// declared.
func limits(r *reader) (min, max uint32, err error) {
	flag, err := r.byte()
	if err != nil {
		return 0, 0, err
	}
	if flag > 1 {
		return 0, 0, fmt.Errorf("limits with flags 0x%02x (shared memories are not supported)", flag)
	}
	if min, err = r.u32(); err != nil {
		return 0, 0, err
	}
	max = 1<<32 - 1
	if flag == 1 {
		if max, err = r.u32(); err == nil && max < min {
			err = fmt.Errorf("limits with a maximum %d below the minimum %d", max, min)
		}
	}
	return min, max, err
}

func valType(r *reader) error {
	b, err := r.byte()
	if err != nil {
		return err
	}
	switch b {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return nil
	}
	return fmt.Errorf("unknown value type 0x%02x", b)
}

func globalType(r *reader) error {
	if err := valType(r); err != nil {
		return err
	}
	mut, err := r.byte()
	if err == nil && mut > 1 {
		err = fmt.Errorf("global with mutability 0x%02x", mut)
	}
	return err
}

func (p *parser) exportSection(r *reader) error {
	return vector(r, maxExports, "exports", func() error {
		name, err := r.name()
		if err != nil {
			return err
		}
		p.exportsHost = p.exportsHost || string(name) == stackExport || string(name) == stopExport || string(name) == startExport
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0:
			return p.funcIndex(r)
		case 3:
			return p.globalIndex(r)
		case 1, 2:
			_, err = r.u32()
			return err
		}
		return fmt.Errorf("export of unknown kind %d", kind)
	})
}

func (p *parser) funcIndex(r *reader) error {
	f, err := r.u32()
	if err == nil && f >= p.funcs() {
		err = fmt.Errorf("function %d does not exist", f)
	}
	return err
}

func (p *parser) globalIndex(r *reader) error {
	g, err := r.u32()
	if err == nil && g >= p.globals {
		err = fmt.Errorf("global %d does not exist", g)
	}
	return err
}

// elementSection reads the element segments in each of their 8 forms
// (the flags' bits: 1 passive or declarative, 2 explicit table index or
// declarative, 4 expressions instead of function indices).
func (p *parser) elementSection(r *reader) error {
	entries := 0
	return vector(r, maxElemSegments, "element segments", func() error {
		flags, err := r.u32()
		if err != nil {
			return err
		}
		if flags > 7 {
			return fmt.Errorf("element segment with flags %d", flags)
		}
		if flags&3 == 2 {
			if _, err := r.u32(); err != nil { // table index
				return err
			}
		}
		if flags&1 == 0 {
			if err := p.constExpr(r); err != nil { // offset
				return err
			}
		}
		if flags&3 != 0 {
			if _, err := r.byte(); err != nil { // element kind or reference type
				return err
			}
		}
		item := func() error { return p.funcIndex(r) }
		if flags&4 != 0 {
			item = func() error { return p.constExpr(r) }
		}
		return vector(r, maxElemEntries-entries, "element entries", func() error { entries++; return item() })
	})
}

func (p *parser) dataSection(r *reader) error {
	return vector(r, maxDataSegments, "data segments", func() error {
		flags, err := r.u32()
		if err != nil {
			return err
		}
		switch flags {
		case 2:
			if _, err := r.u32(); err != nil { // memory index
				return err
			}
			fallthrough
		case 0:
			if err := p.constExpr(r); err != nil {
				return err
			}
		case 1:
		default:
			return fmt.Errorf("data segment with flags %d", flags)
		}
		n, err := r.u32()
		if err == nil {
			_, err = r.bytes(n)
		}
		return err
	})
}

func (p *parser) codeSection(r *reader) error {
	var total uint64
	return vector(r, len(p.funcTypes), "bodies", func() error {
		i := len(p.bodies)
		size, err := r.u32()
		if err != nil {
			return err
		}
		if size > maxBodyBytes {
			return fmt.Errorf("function %d has a body of %d bytes, over the limit of %d", i, size, maxBodyBytes)
		}
		code, err := r.bytes(size)
		if err != nil {
			return err
		}
		b := body{start: r.off - len(code), end: r.off}
		br := &reader{b: r.b[:b.end], off: b.start}
		err = vector(br, maxFuncLocals, "local declarations", func() error {
			n, err := br.u32()
			if err != nil {
				return err
			}
			b.locals += uint64(n) // 64 bits: 50,000 entries of 2^32-1 cannot overflow
			return valType(br)
		})
		switch {
		case err != nil:
			return fmt.Errorf("function %d: %w", i, err)
		case b.locals > maxFuncLocals:
			return fmt.Errorf("function %d declares %d locals, over the limit of %d", i, b.locals, maxFuncLocals)
		case total+b.locals > maxLocals:
			return fmt.Errorf("functions declare %d locals in all, over the limit of %d", total+b.locals, maxLocals)
		}
		total += b.locals
		blocks, err := p.code(br, false)
		switch {
		case err != nil:
			return fmt.Errorf("function %d: %w", i, err)
		case br.off != b.end:
			return fmt.Errorf("function %d: code after the end of the body", i)
		case blocks > maxBlocks:
			return fmt.Errorf("function %d has %d blocks, over the limit of %d", i, blocks, maxBlocks)
		case (b.locals+uint64(p.types[p.funcTypes[i]].params))*blocks > maxLocalsXBlocks:
			return fmt.Errorf("function %d has %d locals and %d blocks, over the limit of %d for their product", i, b.locals, blocks, maxLocalsXBlocks)
		}
		p.bodies = append(p.bodies, b)
		return nil
	})
}

// constExpr reads an initializer expression, up to its end.
func (p *parser) constExpr(r *reader) error {
	_, err := p.code(r, true)
	return err
}

// reader reads a WebAssembly binary, checking every length against what is
// left.
type reader struct {
	b   []byte
	off int
}

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, fmt.Errorf("unexpected end at offset %d", r.off)
	}
	r.off++
	return r.b[r.off-1], nil
}

func (r *reader) bytes(n uint32) ([]byte, error) {
	if uint64(n) > uint64(len(r.b)-r.off) {
		return nil, fmt.Errorf("length %d at offset %d runs past the end", n, r.off)
	}
	r.off += int(n)
	return r.b[r.off-int(n) : r.off], nil
}

func (r *reader) name() ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	return r.bytes(n)
}

// u32 reads an unsigned LEB128 number of at most 32 bits.
func (r *reader) u32() (uint32, error) {
	if r.off < len(r.b) && r.b[r.off] < 0x80 { // one byte: most of them
		r.off++
		return uint32(r.b[r.off-1]), nil
	}
	v, err := r.leb(5, 32, false)
	return uint32(v), err
}

// leb reads a LEB128 number of at most n bytes whose value fits in bits
// bits, signed or not, and returns its bits.
func (r *reader) leb(n, bits int, signed bool) (uint64, error) {
	start := r.off
	var v uint64
	for i := 0; ; i++ {
		b, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == n-1 {
			// The last byte holds the top bits: the ones past bits must be
			// zero (unsigned) or copies of the sign bit (signed).
			used := bits - 7*i
			rest := b >> (used - 1)
			if b&0x80 != 0 || (!signed && b>>used != 0) || (signed && rest != 0 && rest != 0x7f>>(used-1)) {
				return 0, fmt.Errorf("number too large at offset %d", start)
			}
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			return v, nil
		}
	}
}
