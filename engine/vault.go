package engine

import (
	"context"
	"slices"

	"github.com/sesamehq/sesame/abi"
)

// Vault is a backend that stores secrets. The engine reaches every vault
// through this interface: extensions through the sandbox, and native Go
// vaults (tests, embedders) directly. Values and metadata travel in their
// ABI form, already checked by the engine.
//
// Implementations must be safe for concurrent use. Errors wrap a sentinel of
// this package or an abi.Status (the engine maps statuses to sentinels); they
// never contain a secret value.
type Vault interface {
	// Manifest says what the vault is and can do. Operations lists the
	// supported operations; Metadata and CaseSensitive declare the vault's
	// rules. The engine refuses unsupported operations itself.
	Manifest() abi.Manifest

	// Get returns the secret stored under name (the Info carries the name as
	// stored) or an error wrapping ErrSecretNotFound.
	Get(ctx context.Context, name string) (abi.Info, abi.Value, error)

	// Set creates or replaces a secret. A nil md means "none given": keep the
	// existing metadata. A non-nil empty md clears it. A vault without
	// metadata support never receives a non-nil md.
	Set(ctx context.Context, name string, v abi.Value, md abi.Metadata) error

	// Remove deletes a secret, or returns an error wrapping ErrSecretNotFound.
	Remove(ctx context.Context, name string) error

	// List returns the secrets whose names match pattern ('*' and '?'). It
	// may return more; the engine filters again.
	List(ctx context.Context, pattern string) ([]abi.Info, error)
}

// Optional capabilities. A Vault that implements one should also list the
// operation in its Manifest.
type (
	// Statter returns a secret's Info without its value.
	Statter interface {
		Stat(ctx context.Context, name string) (abi.Info, error)
	}
	// MetadataSetter replaces the metadata of an existing secret.
	MetadataSetter interface {
		SetMetadata(ctx context.Context, name string, md abi.Metadata) error
	}
	// Locker is a vault that keeps keys behind a password.
	Locker interface {
		Unlock(ctx context.Context, password []byte) error
		Lock(ctx context.Context) error
	}
	// PasswordSetter changes a vault's password (old is empty for none).
	PasswordSetter interface {
		SetPassword(ctx context.Context, old, new []byte) error
	}
	// Tester checks that a vault works.
	Tester interface {
		Test(ctx context.Context) error
	}
	// Unregisterer cleans up before the vault is unregistered (SPEC.md §4:
	// sesame_unregister); removeStorage says whether its storage area is
	// deleted right after. An error keeps the vault registered, unless the
	// unregister is forced.
	Unregisterer interface {
		Unregister(ctx context.Context, removeStorage bool) error
	}
	// Creator stores a secret only when none of its name exists,
	// atomically with respect to every other writer of the vault, or
	// returns an error wrapping abi.Conflict (SPEC.md §4.2): a vault that
	// several users write, where the engine's check before a set cannot
	// see another user's write. The engine uses it for a set that must not
	// replace.
	Creator interface {
		Create(ctx context.Context, name string, v abi.Value, md abi.Metadata) error
	}
	// MemberManager manages the members of a vault shared by a team
	// (SPEC.md §4.3): action is one of abi.MembersList, MembersAdd,
	// MembersRemove, MembersAccept, arg a recipient or the digest to
	// accept; it returns the member list after the action.
	MemberManager interface {
		Members(ctx context.Context, action, arg string) (abi.Members, error)
	}
)

// coreOps are assumed when a manifest lists no operations.
var coreOps = []abi.Op{abi.OpGet, abi.OpSet, abi.OpRemove, abi.OpList}

// supports reports whether v implements op, by its manifest and its methods.
func supports(v Vault, op abi.Op) bool {
	ops := v.Manifest().Operations
	if ops == nil {
		ops = coreOps
	}
	if !slices.Contains(ops, op) {
		return false
	}
	switch op {
	case abi.OpStat:
		_, ok := v.(Statter)
		return ok
	case abi.OpSetMetadata:
		_, ok := v.(MetadataSetter)
		return ok
	case abi.OpUnlock, abi.OpLock:
		_, ok := v.(Locker)
		return ok
	case abi.OpSetPassword:
		_, ok := v.(PasswordSetter)
		return ok
	case abi.OpTest:
		_, ok := v.(Tester)
		return ok
	case abi.OpUnregister:
		_, ok := v.(Unregisterer)
		return ok
	case abi.OpCreate:
		_, ok := v.(Creator)
		return ok
	case abi.OpMembers:
		_, ok := v.(MemberManager)
		return ok
	}
	return true
}
