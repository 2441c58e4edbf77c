package agent

import (
	"context"

	"github.com/sesamehq/sesame/engine/api"
)

// An Engine is an engine the agent serves, as Engines.Open returns it: an
// *engine.Engine.
type Engine interface {
	api.Transport
	// Unlocked lists the vaults holding a key in memory (Status).
	Unlocked() []api.Unlocked
	// Forget seals every vault's keys at once, as the agent stops.
	Forget()
	Close() error
}

// Engines is how the agent's server opens the engines it serves:
// engine.Open, and engine.WithEnv for the context of each call it runs.
// The package links no engine of its own, so that its client — the codec,
// Client and Remote, which the sesame command uses — costs a command served
// by the agent none of the engine's packages (RATIONALE.md, "A thin
// client"); the program that serves, sesame-engine, passes the engine's.
type Engines struct {
	Open    func(ctx context.Context, path string, opts *api.Options) (Engine, error)
	WithEnv func(ctx context.Context, lookup func(string) (string, bool)) context.Context
}
