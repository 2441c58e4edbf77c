package engine_test

import (
	"errors"
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
	h := newHostileEnv(t)
	hang := filepath.Join(h.dir, "hang.wasm")
	if err := os.WriteFile(hang, testwasm.WAT(t, slowstart.Module), 0o600); err != nil {
		t.Fatal(err)
	}
	quick := engine.Registration{Name: "Quick", Extension: filepath.Join(h.dir, "BadOutput.wasm")} // loads at once
	started := h.logs.when(slowstart.Started)
	slowstart.Check(t, h.e, h.e, hang, quick, started, func(t *testing.T) {
		s, err := h.e.Get(ctx, "db-password", "Healthy")
		if err == nil && s.Value != healthySecret {
			err = errors.New("the healthy vault answered another value")
		}
		if err != nil {
			t.Errorf("get on another vault during the slow registration: %v", err)
		}
	})
	h.intact(t)
}
