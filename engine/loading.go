package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"

	"github.com/sesamehq/sesame/engine/internal/registry"
)

// loadUnlocked loads the extension of the vault registered as cfg (key is
// its lower-case name) with e.mu released while the extension starts, so
// that a module that is slow to start, or never does (an endless loop in
// its _initialize or its manifest, stopped only by the deadline), holds up
// the callers of that vault alone and not every other vault of the engine.
// One load per vault runs at a time: a second caller waits for the first and
// takes what it loaded. Callers hold e.mu, and hold it again on return.
func (e *Engine) loadUnlocked(ctx context.Context, key string, cfg registry.Vault) (*loaded, error) {
	if e.loading == nil {
		e.loading = map[string]chan struct{}{}
	}
	gate := e.loading[key]
	if gate == nil {
		gate = make(chan struct{}, 1)
		e.loading[key] = gate
	}
	reg := e.reg
	e.mu.Unlock()
	select {
	case gate <- struct{}{}:
	case <-ctx.Done():
		e.mu.Lock()
		sentinel := ErrDeadline
		if errors.Is(ctx.Err(), context.Canceled) {
			sentinel = ErrUnavailable
		}
		return nil, fmt.Errorf("%w: waiting for the extension to start: %w", sentinel, ctx.Err())
	}
	defer func() { <-gate }()

	e.mu.Lock()
	if l := e.reusable(ctx, key, cfg); l != nil {
		return l, nil // loaded by the caller we waited for
	}
	e.mu.Unlock()
	l, err := e.load(ctx, reg, cfg)
	e.mu.Lock()
	if err != nil {
		return nil, err
	}
	switch cur, ok := e.reg.Lookup(cfg.Name); {
	case e.closed:
		l.close()
		return nil, fmt.Errorf("%w: the engine is closed", ErrUnavailable)
	case !ok || !reflect.DeepEqual(*cur, cfg):
		l.close()
		return nil, fmt.Errorf("%w: the vault's registration changed while its extension started; try again", ErrUnavailable)
	}
	if other := e.reusable(ctx, key, cfg); other != nil {
		l.close() // Register put a checked instance in place meanwhile
		return other, nil
	}
	return l, nil
}

// reusable returns the vault loaded under key if it was started from cfg
// and the caller's granted environment. Callers hold e.mu.
func (e *Engine) reusable(ctx context.Context, key string, cfg registry.Vault) *loaded {
	l := e.vaults[key]
	if l == nil || !reflect.DeepEqual(l.config, cfg) || !maps.Equal(l.env, grantedEnv(ctx, cfg.Grants.Env)) {
		return nil
	}
	return l
}
