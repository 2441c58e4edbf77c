package sandbox

import (
	"context"
	"crypto/sha256"

	"github.com/tetratelabs/wazero"
)

// compiledKey names a compiled module: the bytes a vault registered and
// its memory grant, which decide what instrument makes of them and the
// runtime that compiles them, and the engine that runs them.
type compiledKey struct {
	sum       [sha256.Size]byte
	memory    uint64
	interpret bool // Spec.Interpret
}

// sharedCompiled is a compiled module and how many loaded modules use it.
type sharedCompiled struct {
	compiled wazero.CompiledModule
	refs     int
}

// compiledFor returns the compiled module of key, compiling it with build
// (which checks and instruments the bytes) when no loaded module holds it
// (and the process keeps no compiled module of it: keptModules; there,
// one Host at a time compiles it, and the others then find it kept).
// Vaults that load the same extension under the same grant so share one
// compiled module: wazero shares the machine code by itself, but every
// CompileModule decodes the module again and keeps that copy (for the
// builtin secretstore, megabytes) as long as the vault is loaded. Each
// compiledFor is matched by one releaseCompiled.
func (h *Host) compiledFor(ctx context.Context, r *runtime, key compiledKey, build func() ([]byte, error)) (wazero.CompiledModule, error) {
	h.compiledMu.Lock()
	if s, ok := h.shared[key]; ok {
		s.refs++
		h.compiledMu.Unlock()
		return s.compiled, nil
	}
	h.compiledMu.Unlock()
	var wasm []byte
	if h.kept.get != nil && !key.interpret {
		if wasm = h.kept.get(key); wasm == nil {
			defer h.kept.turn(key)()
			wasm = h.kept.get(key) // kept by the Host whose turn it was
		}
	}
	kept := wasm != nil
	if !kept {
		var err error
		if wasm, err = build(); err != nil {
			return nil, err
		}
	}
	compiled, err := h.compile(ctx, r, wasm, kept)
	if err != nil {
		return nil, err
	}
	if !kept && h.kept.keep != nil && !key.interpret {
		h.kept.keep(ctx, key, wasm)
	}
	h.compiledMu.Lock()
	defer h.compiledMu.Unlock()
	if s, ok := h.shared[key]; ok { // another Load compiled it meanwhile
		s.refs++
		compiled.Close(ctx)
		return s.compiled, nil
	}
	if h.shared == nil {
		h.shared = map[compiledKey]*sharedCompiled{}
	}
	h.shared[key] = &sharedCompiled{compiled: compiled, refs: 1}
	return compiled, nil
}

// releaseCompiled gives back one use of key's compiled module, and closes
// it after the last.
func (h *Host) releaseCompiled(ctx context.Context, key compiledKey) error {
	h.compiledMu.Lock()
	s, ok := h.shared[key]
	if !ok {
		h.compiledMu.Unlock()
		return nil
	}
	s.refs--
	if s.refs > 0 {
		h.compiledMu.Unlock()
		return nil
	}
	delete(h.shared, key)
	h.compiledMu.Unlock()
	return s.compiled.Close(ctx)
}
