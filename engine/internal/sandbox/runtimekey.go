package sandbox

import (
	"slices"
	"strings"

	"github.com/sesamehq/sesame/abi"
)

// runtimeKey names a runtime of a Host: its memory limit, which wazero sets
// per runtime, and its host functions, which are the ones its modules
// import. wazero compiles a trampoline for every function of a host module
// as a runtime is made, whether a guest imports it or not; a one-shot
// command makes a runtime for the vault it opens, and with all of WASI
// (46 functions), sesame_v1 (37) and AssemblyScript's env (3) in it, the
// runtime took 10 % of the CPU samples of a one-shot get of the builtin
// secretstore (its decoding, 3 %); with the 26 the secretstore imports,
// 6.6 %. Modules that import the same functions share a runtime, so the
// vaults of one extension still share theirs.
type runtimeKey struct {
	pages uint32
	// interpret is wazero's interpreter instead of its compiler
	// (Spec.Interpret).
	interpret bool
	// fullWASI is wazero's WASI module, for modules that import a WASI
	// function the host does not write itself (ownWASI).
	fullWASI bool
	// funcs are the host functions imported, "module.name", sorted, one
	// a line; without the WASI ones when fullWASI.
	funcs string
}

// runtimeKeyOf returns the key of the runtime that runs wasm under a limit
// of pages, interpreted or compiled. An import the host does not know is
// left out: it fails the module's checks (importProblems), as would a known
// one of the wrong type or kind, against the function the runtime has for
// it. wasm has not been checked yet: past maxImports entries (more than
// parseShape accepts) the rest is not read.
func runtimeKeyOf(wasm []byte, pages uint32, interpret bool) runtimeKey {
	k := runtimeKey{pages: pages, interpret: interpret}
	var funcs []string
	seen := 0
	eachImport(wasm, func(im wasmImport) bool {
		known := false
		switch im.module {
		case wasiModule:
			_, known = ownWASI[im.name]
			k.fullWASI = k.fullWASI || !known
		case abi.ImportModule:
			_, known = sesameImports[im.name]
		case envModule:
			known = envFunction(im.name)
		}
		if known && !slices.Contains(funcs, im.module+"."+im.name) {
			funcs = append(funcs, im.module+"."+im.name)
		}
		seen++
		return seen <= maxImports
	})
	if k.fullWASI {
		funcs = slices.DeleteFunc(funcs, func(f string) bool { return strings.HasPrefix(f, wasiModule+".") })
	}
	slices.Sort(funcs)
	k.funcs = strings.Join(funcs, "\n")
	return k
}

// wants returns the functions of module that k names.
func (k runtimeKey) wants(module string) []string {
	var names []string
	for f := range strings.Lines(k.funcs) {
		if name, ok := strings.CutPrefix(strings.TrimSuffix(f, "\n"), module+"."); ok {
			names = append(names, name)
		}
	}
	return names
}

// envFunction reports whether name is a function of AssemblyScript's env
// module that a guest may import.
func envFunction(name string) bool {
	return name == "abort" || name == "trace" || name == "seed"
}
