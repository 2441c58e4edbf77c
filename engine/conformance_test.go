package engine_test

import (
	"testing"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/vaulttest"
)

// TestConformance runs the conformance suite on the go-vault example compiled
// to wasm, through the sandbox and a real storage area on disk: the same
// suite the native memvault passes.
func TestConformance(t *testing.T) {
	t.Parallel()
	vaulttest.Run(t, func(t *testing.T) engine.Vault {
		e := newEngine(t)
		v, err := e.Vault(ctx, "LocalStore")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}, vaulttest.Options{Concurrency: 4})
}
