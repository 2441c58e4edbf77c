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
// prompts and prints.
package main

import (
	"context"
	"os"

	// Its init grows the main goroutine's stack once, before the other
	// packages' inits and the command would grow it in several copies.
	_ "github.com/sesamehq/sesame/internal/stack"
)

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr))
}
