package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/sesamehq/sesame/engine/internal/registry"
)

// handle is one registered vault's place in the engine. It owns the vault's
// loaded extension: it loads it on first use, again when the caller's granted
// environment differs from the one it was started with, and closes it when
// the registration changes or the engine closes.
//
// Locks, outermost first, and never the other way round:
//
//   - Engine.mu guards the engine's maps and its registry; it is held only
//     to look a handle up or replace one, never while an extension runs.
//   - gate admits one load of this vault at a time. Callers of the same
//     vault wait for it (as long as their context allows), so a module that
//     is slow to start, or never does, holds up its own callers and no one
//     else's; a second caller then takes what the first loaded.
//   - mu guards the fields below, held for a few instructions.
type handle struct {
	gate chan struct{}

	mu      sync.Mutex
	current *loaded // nil until loaded, and after a failed load
	retired bool    // the registration changed or the engine closed
}

func newHandle() *handle { return &handle{gate: make(chan struct{}, 1)} }

// use returns the vault started from cfg under the caller's granted
// environment, loading it when the loaded one (if any) differs. load is
// called with no lock held.
func (h *handle) use(ctx context.Context, cfg registry.Vault, load func() (*loaded, error)) (*loaded, error) {
	env := grantedEnv(ctx, cfg.Grants.Env)
	if l := h.matching(cfg, env); l != nil {
		return l, nil
	}
	select {
	case h.gate <- struct{}{}:
	case <-ctx.Done():
		sentinel := ErrDeadline
		if errors.Is(ctx.Err(), context.Canceled) {
			sentinel = ErrUnavailable
		}
		return nil, fmt.Errorf("%w: waiting for the extension to start: %w", sentinel, ctx.Err())
	}
	defer func() { <-h.gate }()
	if l := h.matching(cfg, env); l != nil {
		return l, nil // loaded by the caller we waited for
	}
	// The loaded vault (if any) was started under another environment;
	// one extension per vault is kept, so it goes.
	if err := h.install(nil); err != nil {
		return nil, err
	}
	l, err := load()
	if err != nil {
		return nil, err
	}
	if err := h.install(l); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// matching returns the loaded vault when it was started from cfg and env.
func (h *handle) matching(cfg registry.Vault, env map[string]string) *loaded {
	h.mu.Lock()
	defer h.mu.Unlock()
	if l := h.current; l != nil && l.config.Equal(&cfg) && maps.Equal(l.env, env) {
		return l
	}
	return nil
}

// install makes l (nil to empty the handle) the loaded vault, closing the
// one it replaces. A retired handle takes nothing: its vault's registration
// changed while l was loading.
func (h *handle) install(l *loaded) error {
	h.mu.Lock()
	if h.retired && l != nil {
		h.mu.Unlock()
		return fmt.Errorf("%w: the vault's registration changed while its extension started; try again", ErrUnavailable)
	}
	old := h.current
	h.current = l
	h.mu.Unlock()
	if old != nil && old != l {
		return old.close()
	}
	return nil
}

// offer makes l the loaded vault if the handle holds none, and reports
// whether it did.
func (h *handle) offer(l *loaded) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.current != nil || h.retired {
		return false
	}
	h.current = l
	return true
}

// retire closes the loaded vault and makes the handle refuse any load still
// running. The engine has already dropped the handle from its map, so later
// callers get a new one.
func (h *handle) retire() error {
	h.mu.Lock()
	h.retired = true
	old := h.current
	h.current = nil
	h.mu.Unlock()
	if old != nil {
		return old.close()
	}
	return nil
}
