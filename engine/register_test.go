package engine_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/slowstart"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// TestSlowRegisterHoldsUpNoOne: while `vault register` checks a module
// whose start spins (until the start's 30 s limit), a get on another vault
// answers and another registration completes. Register used to hold the
// engine's lock and the registry file's lock for the whole load, so both
// waited for the spinning start (a get behind the agent waited 27 s).
func TestSlowRegisterHoldsUpNoOne(t *testing.T) {
	t.Parallel()
	h := newHostileEnv(t)
	hang := filepath.Join(h.dir, "hang.wasm")
	if err := os.WriteFile(hang, testwasm.WAT(t, slowstart.Module), 0o600); err != nil {
		t.Fatal(err)
	}
	quick := engine.Registration{Name: "Quick", Extension: filepath.Join(h.dir, "BadOutput.wasm")} // loads at once
	started := h.logs.when(slowstart.Started)
	slowstart.Check(t, h.e, h.e, hang, quick, started, func(t *testing.T) {
		s, err := h.e.Get(ctx, engine.GetRequest{Name: "db-password", Vault: "Healthy"})
		if err == nil && s.Value != healthySecret {
			err = errors.New("the healthy vault answered another value")
		}
		if err != nil {
			t.Errorf("get on another vault during the slow registration: %v", err)
		}
	})
	h.intact(t)
}

// TestConcurrentRegisterOfOneName: two processes (two engines) that
// register the same name at once, without clobber: one succeeds, the other
// gets ErrVaultExists, as if the vault had been there before it began —
// what the CLI's first run relies on when several commands create the
// default vault at once — and the loser leaves the winner's store alone.
// (Register checks the extension between two holds of the registry's lock.
// The loser used to get "changed while its extension was checked; try
// again", and its undo removed the store that both had settled as new: the
// winner's secretstore lost its key record.)
func TestConcurrentRegisterOfOneName(t *testing.T) {
	t.Parallel()
	e1, path := emptyEngine(t)
	e2, err := engine.Open(ctx, path, &engine.Options{DataDir: filepath.Join(filepath.Dir(path), "data"), CacheDir: testCache})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	for round := range 6 {
		name := fmt.Sprintf("Same%d", round)
		reg := engine.Registration{Name: name, Extension: "builtin:secretstore", Grants: engine.Grants{Storage: true},
			Parameters: map[string]any{"authentication": "none"}}
		start := make(chan struct{})
		errs := make(chan error, 2)
		for _, e := range []*engine.Engine{e1, e2} {
			go func() {
				<-start
				errs <- e.Register(ctx, engine.RegisterRequest{Registration: reg})
			}()
		}
		close(start)
		a, b := <-errs, <-errs
		if a != nil {
			a, b = b, a
		}
		if a != nil || !errors.Is(b, engine.ErrVaultExists) {
			t.Fatalf("round %d: %v and %v; want one success and one ErrVaultExists", round, a, b)
		}
		store := engine.StorageFile(filepath.Join(filepath.Dir(path), "data"), name, "builtin:secretstore")
		if _, err := os.Stat(store); err != nil {
			t.Fatalf("round %d: the registered vault's store, created as it was checked: %v", round, err)
		}
		if _, err := e1.Set(ctx, engine.SetRequest{Name: "s", Value: "v", Vault: name}); err != nil {
			t.Fatalf("round %d: the registered vault: %v", round, err)
		}
		if s, err := e2.Get(ctx, engine.GetRequest{Name: "s", Vault: name}); err != nil || s.Value != "v" {
			t.Fatalf("round %d: the registered vault from the other engine: %v, %v", round, s.Value, err)
		}
	}
}
