package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/sesamehq/sesame/engine/api"
)

func (s *session) identityCommand() *cli.Command {
	return &cli.Command{
		Name:      "identity",
		Usage:     "print your age recipient (age1…), making your age identity on first use",
		UsageText: "sesame identity",
		Description: `Prints the age recipient (the public key, age1…) of your age identity: what you
give a team so that its vaults can share their secrets with you. The identity
(the private key, AGE-SECRET-KEY-1…) is made on first use and kept as the
secret ` + api.IdentitySecret + ` in your default vault; it is never printed here. Vaults
registered with --grant identity=true use it through sesame, and never see it.

Back it up with the default vault, or on its own, offline:
  sesame get ` + api.IdentitySecret + ` --vault LocalStore --as-plain-text > identity.txt
and put it back on another machine (before a first sesame identity there):
  sesame set ` + api.IdentitySecret + ` --file identity.txt
Lost, it cannot be made again: a member of each team must add your new
recipient. The default vault cannot be a vault granted identity.

Examples:
  sesame identity`,
		Action: func(c *cli.Context) error {
			if _, err := args(c, 0, 0, ""); err != nil {
				return err
			}
			e, err := s.vaultEngine()
			if err != nil {
				return err
			}
			r, err := unlocked(s, e, func() (string, error) { return api.Do(s.ctx, e, api.IdentityRequest{}) })
			if err != nil {
				return err
			}
			fmt.Fprintln(s.stdout, r)
			return nil
		},
	}
}
