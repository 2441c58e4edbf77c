// Command sesame-engine is the sesame command with the engine in its own
// process: the sesame agent, and every command that the thin sesame, which
// links no engine, cannot serve through the agent (SESAME_AGENT=off, no
// agent can run, extension check). sesame runs it from its own folder by
// exec, with the same arguments and environment; it takes the same command
// line, and is not meant to be run by hand.
package main

import (
	"context"
	"os"

	"github.com/sesamehq/sesame/internal/cli"
	"github.com/sesamehq/sesame/internal/cli/local"
	// Its init grows the main goroutine's stack once, before the other
	// packages' inits and the command would grow it in several copies.
	"github.com/sesamehq/sesame/internal/stack"
)

func main() {
	// The engine in the process goes deeper still: grown again while
	// main's is the only frame.
	stack.ReserveEngine()
	os.Exit(cli.Main(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr, local.Engine()))
}
