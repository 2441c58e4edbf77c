package cli

import (
	"context"
	"io"
	"time"

	"github.com/sesamehq/sesame/engine/api"
	"github.com/sesamehq/sesame/internal/agent"
)

// Engine is the engine in this process, which only the sesame-engine
// binary links (package internal/cli/local makes it): the sesame command
// proper is a thin client, whose commands the agent serves, and which hands
// whatever needs the engine in its own process over to sesame-engine
// (handoff.go). Main runs the one command tree of both.
type Engine struct {
	// Open opens the engine of the registry at path (api.Open).
	Open func(ctx context.Context, path string, opts *api.Options) (LocalEngine, error)
	// WithEnv is api.WithEnv, for the engines the agent serves.
	WithEnv func(ctx context.Context, lookup func(string) (string, bool)) context.Context
	// ExtensionInfo and ExtensionCheck are sesame extension info and
	// check, printing to out.
	ExtensionInfo  func(ctx context.Context, out io.Writer, file string) error
	ExtensionCheck func(ctx context.Context, out io.Writer, file string, limit time.Duration) error
}

// LocalEngine is an engine open in this process: an *api.Engine.
type LocalEngine interface {
	agent.Engine
	Path() string
}

// agentEngines are the engines the agent serves when this process is the
// agent: this process's engine.
func (e *Engine) agentEngines() agent.Engines {
	return agent.Engines{
		Open: func(ctx context.Context, path string, opts *api.Options) (agent.Engine, error) {
			l, err := e.Open(ctx, path, opts)
			if err != nil {
				return nil, err // not a nil LocalEngine in an agent.Engine
			}
			return l, nil
		},
		WithEnv: e.WithEnv,
	}
}
