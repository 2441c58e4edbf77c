package cli

import (
	"time"

	"github.com/urfave/cli/v2"
)

func (s *session) extensionCommand() *cli.Command {
	return &cli.Command{
		Name:      "extension",
		Usage:     "inspect a vault extension, or check it against the ABI",
		UsageText: "sesame extension info|check FILE.wasm",
		Action:    unknownCommand,
		Subcommands: []*cli.Command{
			{
				Name:      "info",
				Usage:     "what a module declares, its size and its sha256 (for a pin)",
				UsageText: "sesame extension info FILE.wasm",
				Description: `Loads the module in a throw-away sandbox and prints its manifest, its size and
the sha256 to pin it with in vaults.toml.

Examples:
  sesame extension info examples/c-vault/c-vault.wasm`,
				Action: s.extensionInfo,
			},
			{
				Name:      "check",
				Usage:     "check a module against the ABI and run the conformance suite on it",
				UsageText: "sesame extension check [--timeout D] FILE.wasm",
				Description: `Loads the module (marker, imports, exports, manifest and requested grants are
checked first), then runs the conformance suite against it in a throw-away
storage area, and reports each part as it ends: what passed, what failed and
why. Each part has a deadline (--timeout, 30s by default): a module that does
not answer fails that part when it passes, so the check ends in bounded time.
The exit status is 0 only when the module conforms.

Examples:
  sesame extension check my-vault.wasm
  sesame extension check --timeout 2m slow-vault.wasm`,
				Flags: []cli.Flag{
					&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "the deadline of each part of the suite, `D`"},
				},
				Action: s.extensionCheck,
			},
		},
	}
}

func (s *session) extensionInfo(c *cli.Context) error {
	a, err := args(c, 1, 1, "the module FILE.wasm")
	if err != nil {
		return err
	}
	return s.inproc.ExtensionInfo(s.ctx, s.stdout, a[0])
}

func (s *session) extensionCheck(c *cli.Context) error {
	a, err := args(c, 1, 1, "the module FILE.wasm")
	if err != nil {
		return err
	}
	limit := c.Duration("timeout")
	if limit <= 0 {
		return usagef(c, "--timeout %s: want a positive duration such as 30s", limit)
	}
	return s.inproc.ExtensionCheck(s.ctx, s.stdout, a[0], limit)
}
