// Command sesame keeps secrets in vaults that run as sandboxed WebAssembly
// extensions.
//
//	sesame set db-password                  # asks for the value, hidden
//	sesame get db-password --as-plain-text
//	sesame exec --env PGPASSWORD=db-password -- psql
//
// The registry of vaults is $XDG_CONFIG_HOME/sesame/vaults.toml (or --config,
// or $SESAME_CONFIG). On a machine without one, the first command that needs
// a vault creates the builtin LocalStore vault. Run "sesame --help" and
// "sesame COMMAND --help" for every command, with examples.
//
// All secret semantics live in package engine; this command only parses,
// prompts and prints (package internal/cli), and links no engine: the
// sesame agent serves its commands, and what needs the engine in this
// process (SESAME_AGENT=off, no agent can run, the agent itself, extension
// check) it hands over to sesame-engine, installed beside it, by exec.
package main

import (
	"context"
	"os"

	// Its init grows the main goroutine's stack once, before the other
	// packages' inits and the command would grow it in several copies.
	_ "github.com/sesamehq/sesame/internal/stack"

	"github.com/sesamehq/sesame/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr, nil))
}
