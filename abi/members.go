package abi

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The actions of sesame_members (SPEC.md §4.3), its argument 0.
const (
	MembersList   = "list"   // argument 1 empty
	MembersAdd    = "add"    // argument 1: the recipient to add
	MembersRemove = "remove" // argument 1: the recipient to remove
	MembersAccept = "accept" // argument 1: the Digest the user was shown
)

// MaxMembersBytes bounds the output of sesame_members: 256 recipients of 62
// bytes, twice, and the rest.
const MaxMembersBytes = 64 << 10

// Members is the output of sesame_members: the member list of a vault
// shared by a team, as the team keeps it now and as this user last
// accepted it.
type Members struct {
	// Members are the recipients (age1…) the team's key is wrapped to now.
	Members []string `json:"members"`
	// Accepted is the list this user accepted last (empty: never). When it
	// differs from Members, or Changed is set, the vault encrypts nothing
	// until the user accepts.
	Accepted []string `json:"accepted"`
	// Changed reports that the team's state differs from the accepted one:
	// the list, or the team key (a member was removed and the key rotated).
	Changed bool `json:"changed"`
	// Digest names the team's state now (its list and key); accept takes
	// it, so that what is accepted is what the user was shown.
	Digest string `json:"digest"`
	// Self is the user's own recipient.
	Self string `json:"self"`
}

// AppendMembers appends the JSON of m, the encoding of sesame_members'
// output.
func AppendMembers(b []byte, m Members) ([]byte, error) {
	js, err := json.Marshal(m)
	if err != nil {
		return b, err
	}
	if len(js) > MaxMembersBytes {
		return b, fmt.Errorf("%w: a member list of %d bytes (at most %d)", TooLarge, len(js), MaxMembersBytes)
	}
	return append(b, js...), nil
}

// DecodeMembers reads the output of sesame_members. A recipient must be
// printable ASCII: the list is shown to the user.
func DecodeMembers(b []byte) (Members, error) {
	var m Members
	if len(b) > MaxMembersBytes {
		return m, fmt.Errorf("%w: a member list of %d bytes (at most %d)", TooLarge, len(b), MaxMembersBytes)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Members{}, fmt.Errorf("%w: the member list is not JSON of SPEC.md §4.3: %v", InvalidArgument, err)
	}
	for _, r := range append(append([]string{m.Self, m.Digest}, m.Members...), m.Accepted...) {
		if strings.IndexFunc(r, func(c rune) bool { return c <= ' ' || c > '~' }) >= 0 {
			return Members{}, fmt.Errorf("%w: the member list holds a recipient or digest that is not printable ASCII", InvalidArgument)
		}
	}
	return m, nil
}
