package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/memvault"
)

// brokenStat is a vault whose stat fails, as a locked or unreachable vault's
// does.
type brokenStat struct{ *memvault.Vault }

func (brokenStat) Stat(context.Context, string) (abi.Info, error) {
	return abi.Info{}, abi.Unavailable
}

// TestWhatIfNamesItsOperation: when the existence check of --what-if fails,
// the error names the operation that was asked for. It used to say "cannot
// set" for a remove.
func TestWhatIfNamesItsOperation(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	if err := e.Mount("Broken", brokenStat{memvault.New(memvault.Options{})}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Remove(ctx, engine.RemoveRequest{Name: "x", Vault: "Broken", Change: engine.Change{WhatIf: true}})
	if !errors.Is(err, engine.ErrUnavailable) || !strings.HasPrefix(err.Error(), `cannot remove secret "x" in vault Broken:`) {
		t.Errorf("remove --what-if: %v", err)
	}
	_, err = e.Set(ctx, engine.SetRequest{Name: "x", Value: "v", Vault: "Broken", Change: engine.Change{WhatIf: true}})
	if !errors.Is(err, engine.ErrUnavailable) || !strings.HasPrefix(err.Error(), `cannot set secret "x" in vault Broken:`) {
		t.Errorf("set --what-if: %v", err)
	}
}
