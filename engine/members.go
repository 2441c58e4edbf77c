package engine

import (
	"context"

	"github.com/sesamehq/sesame/abi"
)

// Members manages the members of r.Vault, a vault shared by a team (SPEC.md
// §4.3: its extension exports sesame_members): lists them, adds or removes
// r.Recipient, or accepts the member list whose digest is r.Digest. It
// returns the list after the action. A member list that someone else
// changed is shown by list (Members.Changed) and must be accepted before
// the vault encrypts anything to it. Errors: a vault whose extension does
// not manage members (ErrUnsupported), an unknown action
// (ErrInvalidArgument), and the vault's own (naming the vault).
func (e *Engine) Members(ctx context.Context, r MembersRequest) (abi.Members, error) {
	const op = OpMembers
	arg := r.Recipient
	switch r.Action {
	case abi.MembersList:
	case abi.MembersAdd, abi.MembersRemove:
		if r.Recipient == "" {
			return abi.Members{}, wrapf(op, r.Vault, "", ErrInvalidArgument, "%s needs a recipient (age1…)", r.Action)
		}
	case abi.MembersAccept:
		if r.Digest == "" {
			return abi.Members{}, wrapf(op, r.Vault, "", ErrInvalidArgument, "accept needs the digest of the member list shown")
		}
		arg = r.Digest
	default:
		return abi.Members{}, wrapf(op, r.Vault, "", ErrInvalidArgument, "unknown members action %q (list, add, remove, accept)", r.Action)
	}
	vt, canon, err := e.target(ctx, op, "", r.Vault)
	if err != nil {
		return abi.Members{}, err
	}
	m, ok := vt.(MemberManager)
	if !ok || !supports(vt, abi.OpMembers) {
		return abi.Members{}, wrapf(op, canon, "", ErrUnsupported, "the vault does not manage members (its extension has no sesame_members)")
	}
	list, err := m.Members(ctx, r.Action, arg)
	if err != nil {
		return abi.Members{}, vaultError(op, canon, "", err)
	}
	return list, nil
}
