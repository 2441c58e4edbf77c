// Package slowstart is a test scenario that the engine's tests and the
// agent's share: a registration whose extension never finishes starting
// must hold up no other caller.
package slowstart

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/engine"
)

// Module is the WAT source, relative to the module root, of a vault whose
// start logs Started and then spins until its deadline or its caller's
// context ends.
const Module = "engine/testdata/wat/hang-manifest.wat"

// Started is the log line of Module's start.
const Started = "hang: in the manifest"

// Check registers the module at hang as "Slow" through e and, once started
// says its start is spinning, runs other and registers quick (named Quick)
// through o (e again in process; another client of the agent): both must
// finish while the slow registration is still running. The slow one is then
// canceled and must have written nothing.
func Check(t *testing.T, e, o engine.Transport, hang string, quick engine.Registration, started <-chan struct{}, other func(*testing.T)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slowDone := make(chan error, 1)
	go func() {
		slowDone <- engine.Run(ctx, e, engine.RegisterRequest{Registration: engine.Registration{Name: "Slow", Extension: hang}})
	}()
	<-started
	othersDone := make(chan struct{})
	go func() {
		defer close(othersDone)
		other(t)
		if err := engine.Run(context.Background(), o, engine.RegisterRequest{Registration: quick}); err != nil {
			t.Errorf("another registration during the slow one: %v", err)
		}
	}()
	select {
	case <-othersDone:
	case err := <-slowDone:
		t.Fatalf("the slow registration ended first (%v): the others waited for it", err)
	}
	cancel()
	// In process the engine's error names the vault; through the agent the
	// client ends the call itself, with the cancellation as its cause.
	err := <-slowDone
	if !errors.Is(err, engine.ErrExtension) && !errors.Is(err, engine.ErrUnavailable) ||
		!strings.Contains(err.Error(), "Slow") && !errors.Is(err, context.Canceled) {
		t.Errorf("the canceled registration: %v", err)
	}
	vaults, err := engine.Do(context.Background(), o, engine.VaultsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vaults {
		names = append(names, v.Name)
	}
	if got := strings.Join(names, " "); !strings.Contains(got, "Quick") || strings.Contains(got, "Slow") {
		t.Errorf("registered vaults after the slow registration failed: %s; want Quick and no Slow", got)
	}
}
