// Package local is the engine of the sesame command in its own process:
// what only sesame-engine links. Package cli runs every command; given
// Engine, it can open the engine in the process (SESAME_AGENT=off, or no
// agent can run), serve as the agent, and check extensions; the thin sesame
// has none of it and hands those commands over to sesame-engine
// (RATIONALE.md, "A thin client").
package local

import (
	"context"

	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/engine/api"
	"github.com/sesamehq/sesame/internal/cli"
)

// Engine returns the engine in this process, for cli.Main.
func Engine() *cli.Engine {
	return &cli.Engine{
		Open:           open,
		WithEnv:        engine.WithEnv,
		ExtensionInfo:  extensionInfo,
		ExtensionCheck: extensionCheck,
	}
}

// open is engine.Open.
func open(ctx context.Context, path string, opts *api.Options) (cli.LocalEngine, error) {
	e, err := engine.Open(ctx, path, opts)
	if err != nil {
		return nil, err // not a nil *engine.Engine in a cli.LocalEngine
	}
	return e, nil
}
