//go:build linux

package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/sesamehq/sesame/internal/etcdtest"
)

// TestTeamCLI: the team, as two users type it, with the sesame
// command on a real etcd cluster: A registers Team and adds B; B, after
// seeing and accepting the member list, reads what A wrote, with its type
// and metadata; after A removes B, B reads nothing written afterwards. Each
// user has an agent, as users do (each command alone would load two vaults
// again: the team's and the default vault that keeps the identity).
// One etcd member serves them: a quorum is not what this test is about
// (internal/etcdtest's and the engine's tests kill and stop members).
func TestTeamCLI(t *testing.T) {
	c := etcdtest.StartOne(t)
	eps := slices.Sorted(slices.Values(c.Endpoints()))
	users := make([]*home, 2)
	recipients := make([]string, 2)
	for i := range users {
		h, _ := newHome(t).withAgent()
		h.run(0, "", "vault", "register", "Local", "--extension", "builtin:secretstore", "--grant", "storage=true", "--param", "authentication=none")
		out, _ := h.run(0, "", "identity")
		recipients[i] = strings.TrimSpace(out)
		// As docs/team.md has it: the members are the origins granted.
		h.run(0, "", "vault", "register", "Team", "--extension", "builtin:etcd", "--param", "prefix=team/",
			"--grant", "storage=true", "--grant", "identity=true", "--grant", "http="+strings.Join(eps, ","))
		users[i] = h
	}
	a, b := users[0], users[1]

	out, _ := a.run(0, "", "vault", "members", "add", "Team", recipients[1])
	if !strings.Contains(out, recipients[0]+"  (you)") || !strings.Contains(out, recipients[1]) {
		t.Fatalf("members add printed:\n%s", out)
	}
	a.run(0, "", "set", "db-password", "--vault", "Team", "--type", "credential", "--username", "app", "--value", "s3cret-d4ta", "--metadata", "owner=ops")

	_, errs := b.run(1, "", "get", "db-password", "--vault", "Team")
	if !strings.Contains(errs, "you have not accepted this team's member list yet (2 members): review it with sesame vault members list Team") {
		t.Fatalf("B's get before accepting:\n%s", errs)
	}
	out, errs = b.run(0, "", "vault", "members", "list", "Team")
	if !strings.Contains(out, recipients[1]+"  (you, added, not accepted yet)") || !strings.Contains(errs, "sesame: hint: you have not accepted this member list yet") {
		t.Fatalf("B's members list:\n%s\n%s", out, errs)
	}
	out, _ = b.run(0, "", "vault", "members", "accept", "Team")
	if !strings.Contains(out, "accepted: vault Team now works with these 2 members") {
		t.Fatalf("B's members accept:\n%s", out)
	}
	out, _ = b.run(0, "", "get", "db-password", "--vault", "Team", "--as-plain-text")
	if !strings.Contains(out, "app") || !strings.Contains(out, "s3cret-d4ta") {
		t.Fatalf("B's get printed:\n%s", out)
	}
	out, _ = b.run(0, "", "info", "db-password", "--vault", "Team", "--json")
	if !strings.Contains(out, `"type": "credential"`) || !strings.Contains(out, `"owner"`) {
		t.Fatalf("B's info printed:\n%s", out)
	}

	a.run(0, "", "vault", "members", "remove", "Team", recipients[1])
	a.run(0, "", "set", "after", "--vault", "Team", "--value", "new")
	for _, name := range []string{"after", "db-password"} {
		_, errs = b.run(1, "", "get", name, "--vault", "Team")
		if !strings.Contains(errs, "you are not a member of the team") {
			t.Fatalf("B's get of %s after its removal:\n%s", name, errs)
		}
	}
}
