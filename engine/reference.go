package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sesamehq/sesame/engine/internal/registry"
)

// Secret references. A parameter value sesame:VAULT/NAME names a secret of
// another vault; the engine reads it when the vault loads and hands the
// extension its text. The registry keeps the reference, so vaults.toml
// never holds the secret, and the resolved value lives in the loaded
// vault's parameters only: no error, log or listing shows it.
//
// Rules: the secret must be a string or a secure string (its text is
// handed over as it is); bytes, credentials and hashtables are refused,
// since a parameter is text and there is no one right way to flatten them.
// A reference is resolved each time the vault loads: a change to the
// secret reaches the vault when it is loaded again (by the next engine, or
// when its registration changes; a long-lived engine such as the agent's
// keeps the value it read). References may chain (A's parameter names a secret of B,
// whose parameter names one of C) but not go round: the chain is read from
// the registry before anything loads, so a cycle is an error naming it and
// never a wait on a vault that waits on us.

// resolveParams returns the parameters of cfg as the extension receives
// them, each reference replaced by the text of the secret it names. reg is
// the registry cfg is loaded from (cfg may be about to replace its
// namesake there). Errors name the parameter, the reference and the cause.
func (e *Engine) resolveParams(ctx context.Context, reg *registry.Registry, cfg registry.Vault) (map[string]string, error) {
	params := paramStrings(cfg.Parameters)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		ref, ok, err := registry.SecretRef(params[k])
		if !ok {
			continue
		}
		fail := func(sentinel error, format string, args ...any) error {
			return fmt.Errorf("%w: parameter %q refers to %s: %s", sentinel, k, params[k], fmt.Sprintf(format, args...))
		}
		if err != nil {
			return nil, fail(ErrInvalidArgument, "%v", err)
		}
		if chain := refCycle(reg, cfg, ref.Vault); chain != nil {
			return nil, fail(ErrInvalidArgument, "the references go round in a circle: %s", strings.Join(chain, " → "))
		}
		s, err := e.Get(ctx, GetRequest{Name: ref.Name, Vault: ref.Vault})
		if err != nil {
			// The cause as text: its sentinel (not found, locked) is
			// about the other vault, and must not make this vault's
			// failure look like a missing secret of its own.
			return nil, fail(ErrUnavailable, "%v", err)
		}
		switch v := s.Value.(type) {
		case string:
			params[k] = v
		case SecureString:
			params[k] = string(v)
		default:
			return nil, fail(ErrInvalidArgument, "the secret is of type %s; a reference takes a string or a secure string", s.Type)
		}
	}
	return params, nil
}

// refCycle follows the references of the registry from vault to (cfg's
// parameters standing for those of its namesake in reg) and returns the
// first chain that comes back to a vault already on it, starting with
// cfg's name, or nil.
func refCycle(reg *registry.Registry, cfg registry.Vault, to string) []string {
	paramsOf := func(name string) (string, map[string]any) {
		if strings.EqualFold(name, cfg.Name) {
			return cfg.Name, cfg.Parameters
		}
		if v, ok := reg.Lookup(name); ok {
			return v.Name, v.Parameters
		}
		return name, nil
	}
	path := []string{cfg.Name}
	onPath := map[string]bool{strings.ToLower(cfg.Name): true}
	done := map[string]bool{}
	var visit func(name string) []string
	visit = func(name string) []string {
		key := strings.ToLower(name)
		canon, params := paramsOf(name)
		switch {
		case onPath[key]:
			return append(slices.Clone(path), canon)
		case done[key]:
			return nil
		}
		onPath[key], path = true, append(path, canon)
		for _, k := range slices.Sorted(maps.Keys(params)) {
			s, _ := params[k].(string)
			if ref, ok, err := registry.SecretRef(s); ok && err == nil {
				if chain := visit(ref.Vault); chain != nil {
					return chain
				}
			}
		}
		onPath[key], path, done[key] = false, path[:len(path)-1], true
		return nil
	}
	return visit(to)
}
