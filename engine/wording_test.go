package engine_test

import (
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/testwasm"
)

// The layers below the engine never name themselves in a message: not
// package abi ("abi: cannot encode …"), not an import of the ABI that a
// guest's error repeats ("sesame_v1.kv_delete: not found"). Each layer
// adds one fact; the status already says what those prefixes did.
func TestNoInternalLayerInMessages(t *testing.T) {
	t.Parallel()
	e, _ := emptyEngine(t)
	hostile := testwasm.Build(t, "engine/testdata/guests/hostile")
	reg := engine.Registration{Name: "H", Extension: hostile, Grants: engine.Grants{Storage: true}}
	if err := e.Register(ctx, engine.RegisterRequest{Registration: reg}); err != nil {
		t.Fatal(err)
	}
	// The hostile guest returns the SDK's HostError of kv_delete as is.
	_, err := e.Remove(ctx, engine.RemoveRequest{Name: "missing", Vault: "H"})
	if want := `cannot remove secret "missing" in vault H: secret not found`; err == nil || err.Error() != want {
		t.Errorf("remove of a missing secret:\n got %v\nwant %s", err, want)
	}
	// The engine's encoding of a value over the ABI's limit.
	big := strings.Repeat("v", abi.MaxValueBytes)
	_, err = e.Set(ctx, engine.SetRequest{Name: "big", Value: big, Vault: "H"})
	if want := `cannot set secret "big" in vault H: too large: a value takes at most 1 MiB (1048576 bytes), its user name and hashtable keys included`; err == nil || err.Error() != want {
		t.Errorf("set of a value over the limit:\n got %v\nwant %s", err, want)
	}
}
