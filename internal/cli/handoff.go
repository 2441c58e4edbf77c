package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/sesamehq/sesame/internal/handoff"
)

// engineBinary returns sesame-engine beside this program, checked
// (handoff.Binary).
func engineBinary() (string, error) {
	exe, err := executable()
	if err != nil {
		return "", fmt.Errorf("cannot find %s: %w", handoff.Name, err)
	}
	path, err := handoff.Binary(exe)
	if err != nil {
		return "", withHint(err, "sesame runs "+handoff.Name+" from its own folder: install both with make build or go install ./cmd/...")
	}
	return path, nil
}

// handOff runs the command again in sesame-engine, which links the engine
// (handoff.Exec). It returns only on failure. The thin sesame calls it
// before the command has read or written anything (see thin).
func (s *session) handOff() error {
	path, err := engineBinary()
	if err != nil {
		return err
	}
	return handoff.Exec(path, s.args)
}

// The commands the thin sesame hands over before they start, by their
// names under sesame: those that need the engine in the process whatever
// the agent does.
var inProcess = map[string]bool{"agent run": true, "extension info": true, "extension check": true}

// The commands that reach no engine at all, which the thin sesame runs as
// they are.
var engineFree = map[string]bool{"version": true, "completion": true, "agent start": true, "agent stop": true, "agent status": true}

// thin readies the command tree cmds (under the names prefix) for the thin
// sesame, whose commands cannot be handed over once they have prompted or
// printed: a command of inProcess is handed over as it starts; any other
// that uses an engine first connects to the agent (s.engine), which hands
// it over when the agent cannot serve (SESAME_AGENT=auto and no agent can
// run), before it reads a value or asks a question.
func (s *session) thin(cmds []*cli.Command, prefix string) {
	for _, c := range cmds {
		name := prefix + c.Name
		s.thin(c.Subcommands, name+" ")
		action := c.Action
		switch {
		case len(c.Subcommands) > 0 || action == nil || engineFree[name]:
		case inProcess[name]:
			c.Action = func(*cli.Context) error { return s.handOff() }
		default:
			c.Action = func(ctx *cli.Context) error {
				if _, err := s.engine(); err != nil {
					return err
				}
				return action(ctx)
			}
		}
	}
}
