package cli

import (
	"fmt"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine/api"
)

// membersCommand is sesame vault members: the member list of a vault
// shared by a team (builtin:etcd; SPEC.md §4.3).
func (s *session) membersCommand() *cli.Command {
	return &cli.Command{
		Name:      "members",
		Usage:     "list, add, remove and accept the members of a team vault",
		UsageText: "sesame vault members COMMAND NAME [RECIPIENT]",
		Description: `A team vault (builtin:etcd) encrypts its secrets under a team key that is
wrapped to each member's age recipient (sesame identity prints yours). The
first add creates the team, with you and the member added. Removing a member
makes a new team key and encrypts every secret again under it: the removed
member cannot read what is written afterwards; rotate what they have seen.

When someone else changes the member list (or the team key), the vault does
nothing until you have seen the change and accepted it: a member you do not
know is never given your secrets silently. list shows the change; accept
shows it and accepts it.

Examples:
  sesame vault members add Team age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  sesame vault members list Team
  sesame vault members remove Team age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  sesame vault members accept Team`,
		Action: unknownCommand,
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "list the members of a team vault",
				UsageText: "sesame vault members list NAME",
				Description: `Prints each member's recipient; yours is marked "you". Members added or
removed by someone else since you accepted the list are marked, and the
digest to accept is printed.

Examples:
  sesame vault members list Team`,
				Action: s.membersAction(abi.MembersList, false),
			},
			{
				Name:      "add",
				Usage:     "add a member (the first add creates the team)",
				UsageText: "sesame vault members add NAME RECIPIENT",
				Description: `Wraps the team key to RECIPIENT (age1…, what the member's sesame identity
prints). On a vault without a team yet, creates the team with you and
RECIPIENT (give your own recipient to start a team of one).

Examples:
  sesame vault members add Team age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p`,
				Action: s.membersAction(abi.MembersAdd, true),
			},
			{
				Name:      "remove",
				Usage:     "remove a member and replace the team key",
				UsageText: "sesame vault members remove NAME RECIPIENT",
				Description: `Makes a new team key, wrapped to the other members, and encrypts every
secret again under it; the old key stays wrapped to the others until every
secret has moved, so an interrupted remove loses nothing (run a members
command again to finish it). The removed member keeps what they read
before: change those secrets at their source (docs/team.md).

Examples:
  sesame vault members remove Team age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p`,
				Action: s.membersAction(abi.MembersRemove, true),
			},
			{
				Name:      "accept",
				Usage:     "accept a member list that someone else changed",
				UsageText: "sesame vault members accept NAME [--digest HEX]",
				Description: `Shows the member list and accepts it: from then on the vault reads and writes
with it. With --digest, accepts only the list that digest names (the one
members list printed), and refuses a list that changed since.

Examples:
  sesame vault members accept Team`,
				Flags:  []cli.Flag{&cli.StringFlag{Name: "digest", Usage: "accept only the member list of digest `HEX`"}},
				Action: s.membersAccept,
			},
		},
	}
}

// membersAction runs action on the vault named by the first argument, with
// the recipient of the second when withRecipient, and prints the list.
func (s *session) membersAction(action string, withRecipient bool) cli.ActionFunc {
	return func(c *cli.Context) error {
		n, what := 1, "the vault NAME"
		if withRecipient {
			n, what = 2, "the vault NAME and the RECIPIENT"
		}
		a, err := args(c, n, n, what)
		if err != nil {
			return err
		}
		r := api.MembersRequest{Vault: a[0], Action: action}
		if withRecipient {
			r.Recipient = a[1]
		}
		m, err := s.members(r)
		if err != nil {
			return err
		}
		s.printMembers(a[0], m)
		return nil
	}
}

func (s *session) members(r api.MembersRequest) (abi.Members, error) {
	e, err := s.engine()
	if err != nil {
		return abi.Members{}, err
	}
	s.noteCompile()
	return unlocked(s, e, func() (abi.Members, error) { return api.Do(s.ctx, e, r) })
}

// membersAccept lists, shows and accepts (the digest given, or the one
// just listed).
func (s *session) membersAccept(c *cli.Context) error {
	a, err := args(c, 1, 1, "the vault NAME")
	if err != nil {
		return err
	}
	digest := c.String("digest")
	if digest == "" {
		m, err := s.members(api.MembersRequest{Vault: a[0], Action: abi.MembersList})
		if err != nil {
			return err
		}
		if m.Digest == "" {
			return fmt.Errorf("vault %s has no team yet: sesame vault members add %s RECIPIENT creates it", a[0], a[0])
		}
		digest = m.Digest
	}
	m, err := s.members(api.MembersRequest{Vault: a[0], Action: abi.MembersAccept, Digest: digest})
	if err != nil {
		return err
	}
	s.printMembers(a[0], m)
	fmt.Fprintf(s.stdout, "accepted: vault %s now works with these %d members\n", a[0], len(m.Members))
	return nil
}

// printMembers prints m: one member a line, marked "you" and, when the
// list is not the one accepted, "added" or "removed" since.
func (s *session) printMembers(vault string, m abi.Members) {
	if len(m.Members) == 0 {
		fmt.Fprintf(s.stdout, "vault %s has no team yet; your recipient is %s\n", vault, m.Self)
		return
	}
	for _, r := range m.Members {
		var notes []string
		if r == m.Self {
			notes = append(notes, "you")
		}
		if m.Changed && !slices.Contains(m.Accepted, r) {
			notes = append(notes, "added, not accepted yet")
		}
		printMember(s, r, notes)
	}
	for _, r := range m.Accepted {
		if m.Changed && !slices.Contains(m.Members, r) {
			printMember(s, r, []string{"removed, not accepted yet"})
		}
	}
	if m.Changed {
		what := "the member list changed since you accepted it"
		if len(m.Accepted) == 0 {
			what = "you have not accepted this member list yet"
		}
		fmt.Fprintf(s.stdout, "digest %s\n", m.Digest)
		s.hint(what + "; the vault does nothing until you accept it: sesame vault members accept " + vault + " --digest " + m.Digest)
	}
}

func printMember(s *session, r string, notes []string) {
	line := r
	for i, n := range notes {
		if i == 0 {
			line += "  (" + n
		} else {
			line += ", " + n
		}
		if i == len(notes)-1 {
			line += ")"
		}
	}
	fmt.Fprintln(s.stdout, line)
}
