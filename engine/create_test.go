package engine_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/memvault"
)

// creatorVault is a memvault with create (SPEC.md §4.2) that counts the
// engine's checks (stat and get): what a set costs a vault whose every
// request crosses the network.
type creatorVault struct {
	*memvault.Vault
	mu     sync.Mutex // makes Create atomic
	checks atomic.Int64
}

func (v *creatorVault) Manifest() abi.Manifest {
	m := v.Vault.Manifest()
	m.Operations = append(m.Operations, abi.OpCreate)
	return m
}

func (v *creatorVault) Stat(ctx context.Context, name string) (abi.Info, error) {
	v.checks.Add(1)
	return v.Vault.Stat(ctx, name)
}

func (v *creatorVault) Get(ctx context.Context, name string) (abi.Info, abi.Value, error) {
	v.checks.Add(1)
	return v.Vault.Get(ctx, name)
}

func (v *creatorVault) Create(ctx context.Context, name string, val abi.Value, md abi.Metadata) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, err := v.Vault.Stat(ctx, name); err == nil {
		return abi.Conflict
	}
	return v.Vault.Set(ctx, name, val, md)
}

// TestCreateNoCheck: a no-clobber set on a vault with create makes no check
// before it (create refuses an existing secret itself, in the same request),
// and still reports an existing secret as ErrNoClobber; a set that shows
// its action first (WhatIf, Confirm) and a set that may replace check.
func TestCreateNoCheck(t *testing.T) {
	t.Parallel()
	e, _ := emptyEngine(t)
	v := &creatorVault{Vault: memvault.New(memvault.Options{Name: "mem"})}
	if err := e.Mount("C", v); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		req        engine.SetRequest
		wantErr    error
		wantChecks int64
	}{
		{"no-clobber, new", engine.SetRequest{Name: "a", NoClobber: true}, nil, 0},
		{"no-clobber, existing", engine.SetRequest{Name: "a", NoClobber: true}, engine.ErrNoClobber, 0},
		{"no-clobber, what if", engine.SetRequest{Name: "b", NoClobber: true, Change: engine.Change{WhatIf: true}}, nil, 1},
		{"no-clobber, confirm", engine.SetRequest{Name: "b", NoClobber: true, Change: engine.Change{Confirm: func(a engine.Action) bool { return !a.Replace }}}, nil, 1},
		{"replace", engine.SetRequest{Name: "a"}, nil, 1},
	} {
		v.checks.Store(0)
		tc.req.Vault, tc.req.Value = "C", "v"
		act, err := e.Set(ctx, tc.req)
		if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.wantErr)
		}
		if n := v.checks.Load(); n != tc.wantChecks {
			t.Errorf("%s: %d checks before the write, want %d", tc.name, n, tc.wantChecks)
		}
		if err == nil && act.Replace != (tc.name == "replace") {
			t.Errorf("%s: the action says replace %v", tc.name, act.Replace)
		}
	}
	if s, err := e.Get(ctx, engine.GetRequest{Name: "b", Vault: "C"}); err != nil || s.Value != "v" {
		t.Fatalf("b, created after a confirm: %+v, %v", s, err)
	}
}
