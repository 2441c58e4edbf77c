// Package off hands a command run with SESAME_AGENT=off from the thin
// sesame to sesame-engine in its init, which runs before those of the
// command's own packages: with the agent off every command needs the engine
// in its process, and the thin program would otherwise run the inits of its
// command tree's packages (36 in all, urfave/cli's the largest) only to hand
// the command over at the top of cli.Main.
//
// Only cmd/sesame imports it: sesame-engine, which runs the command, must
// not. Anything that stops the handover here (no executable path, a
// sesame-engine missing or refused, a failed exec) leaves the command to
// start as before, and cli.Main, trying the same again, reports it.
package off

import (
	"os"

	"github.com/sesamehq/sesame/internal/handoff"
)

func init() {
	if os.Getenv("SESAME_AGENT") != "off" {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	if path, err := handoff.Binary(exe); err == nil {
		handoff.Exec(path, os.Args) // returns only on failure
	}
}
