//go:build wasip1

package guest

import (
	"errors"

	"github.com/sesamehq/sesame/abi"
)

// Vault is what an extension implements: the four operations every vault
// has. The SDK calls one method per host call, never two at once.
//
// Errors: return Error(abi.NotFound, "…") or any error that wraps an
// abi.Status (errors.Is(err, abi.NotFound) holds for it); the status goes to
// the host. Any other error becomes INTERNAL. The error's text goes to the
// user as the message, so it must never contain a secret value.
type Vault interface {
	// Get returns the secret called name. The Info carries the name as stored
	// (a case-insensitive vault returns its stored spelling); an empty
	// Info.Name is replaced by name and a zero Info.Type by the value's type.
	// Get returns an error wrapping abi.NotFound when there is no such secret.
	Get(name string) (abi.Info, abi.Value, error)

	// Set creates or replaces the secret called name. md == nil means "no
	// metadata given": keep the secret's existing metadata. A non-nil empty md
	// means "clear the metadata". A vault whose manifest says Metadata: false
	// always receives nil.
	Set(name string, v abi.Value, md abi.Metadata) error

	// Remove deletes the secret called name, or returns an error wrapping
	// abi.NotFound when there is none.
	Remove(name string) error

	// List returns the secrets whose names match pattern, where '*' matches
	// any run of characters and '?' one (see abi.Match). It may return a
	// superset, even every secret: the host filters the result again.
	List(pattern string) ([]abi.Info, error)
}

// Statter is implemented by a vault that can describe a secret without
// reading its value. Without it the engine uses Get.
type Statter interface {
	// Stat returns the Info of the secret called name, or an error wrapping
	// abi.NotFound.
	Stat(name string) (abi.Info, error)
}

// MetadataSetter is implemented by a vault that can replace a secret's
// metadata without rewriting its value.
type MetadataSetter interface {
	// SetMetadata replaces the whole metadata of the existing secret called
	// name (md is never nil), or returns an error wrapping abi.NotFound.
	SetMetadata(name string, md abi.Metadata) error
}

// Locker is implemented by a vault whose keys are derived from a password.
// While locked, every operation that needs the key should return an error
// wrapping abi.Locked.
//
// Because the host discards and creates instances at will, an unlocked state
// kept only in memory is lost with the instance; keep what the vault needs
// (for example a wrapped key with an expiry) in host storage.
type Locker interface {
	// Unlock checks password and unlocks the vault, or returns an error
	// wrapping abi.Locked for a wrong password. The SDK zeroes password when
	// Unlock returns: copy what must be kept.
	Unlock(password []byte) error
	// Lock forgets the key.
	Lock() error
}

// PasswordSetter is implemented by a vault that can change its password.
type PasswordSetter interface {
	// SetPassword replaces the password old (empty when there is none yet)
	// with new. The SDK zeroes both slices when SetPassword returns.
	SetPassword(old, new []byte) error
}

// Tester is implemented by a vault that can check that it works: storage
// reachable, configuration valid.
type Tester interface {
	// Test returns nil when the vault can work, or an error that explains why
	// not.
	Test() error
}

// Unregisterer is implemented by a vault that cleans up when it is
// unregistered (sesame vault unregister): what lives outside the host's
// storage area (a file in the granted directory, a registration with a
// remote service). It runs before the registration is removed, with the
// vault's grants; the storage area is still there to read.
type Unregisterer interface {
	// Unregister cleans up. removeStorage reports whether the host deletes
	// the storage area right after (else it stays, and registering the
	// vault again finds it: leave what it holds alone). An error stops the
	// unregister, unless the user forces it (SPEC.md §4).
	Unregister(removeStorage bool) error
}

// Creator is implemented by a vault that can create a secret only when
// none of its name exists, atomically with respect to every other writer
// (SPEC.md §4.2): a vault shared by several users, where the host's check
// before a set cannot see another user's write. The host calls it for a set
// that must not replace (set --no-clobber).
type Creator interface {
	// Create stores the secret called name, as Set does, only if there is
	// none of that name; else it returns an error wrapping abi.Conflict and
	// changes nothing.
	Create(name string, v abi.Value, md abi.Metadata) error
}

// MemberManager is implemented by a vault shared by a team whose members
// are age recipients (SPEC.md §4.3).
type MemberManager interface {
	// Members runs action (abi.MembersList, MembersAdd, MembersRemove,
	// MembersAccept) with arg (a recipient, or the digest to accept) and
	// returns the member list after it.
	Members(action, arg string) (abi.Members, error)
}

// Batcher is implemented by a vault that wants to know where a batch of
// its calls begins and ends (SPEC.md §5.3, "Where a batch begins and
// ends"), to do once at the end what each call would otherwise do (update
// an index of its records). A host before sesame 0.5, and every call
// outside a batch of several calls, runs without it: the vault must work
// untold.
type Batcher interface {
	// Batch is called with abi.BatchBegin before the batch's first call and
	// with abi.BatchEnd after its last, before the commit, both within the
	// batch: what they write commits with it, and an error fails it. The
	// calls between may run on other instances: keep in storage what the
	// end needs.
	Batch(phase byte) error
}

// Initializer is implemented by a vault that needs its registration: the
// vault's name in vaults.toml and its parameters.
type Initializer interface {
	// Init runs once on every new instance, before any operation. An error
	// fails the instance, and with it the operation that needed it.
	Init(vault string, params map[string]string) error
}

// Error returns an error that carries status s to the host, with msg as the
// message shown to the user. msg must never contain a secret value. An empty
// msg sends the status alone. Error(abi.OK, …) is a mistake and reports
// INTERNAL.
func Error(s abi.Status, msg string) error {
	if s == abi.OK {
		s = abi.Internal
	}
	return &statusError{status: s, msg: msg}
}

// statusError is what Error returns.
type statusError struct {
	status abi.Status
	msg    string
}

func (e *statusError) Error() string {
	if e.msg == "" {
		return e.status.String()
	}
	return e.msg
}

func (e *statusError) Unwrap() error { return e.status }

// HostError reports a host function that returned a status other than OK.
// It wraps that status, so errors.Is(err, abi.NotFound) works. Its message
// names the function and the status only, never a key or a value.
type HostError struct {
	Func   string     // the host function in module sesame_v1: "kv_get", …
	Status abi.Status // what it returned
}

func (e *HostError) Error() string { return abi.ImportModule + "." + e.Func + ": " + e.Status.String() }

// Unwrap returns the status.
func (e *HostError) Unwrap() error { return e.Status }

// statusOf turns what a Vault method returned into the status and the
// message sent to the host. A bare abi.Status, or Error with an empty
// message, sends no message; codes unknown to this ABI become INTERNAL.
func statusOf(err error) (abi.Status, string) {
	var (
		s   abi.Status
		msg = err.Error()
	)
	var se *statusError
	switch {
	case errors.As(err, &se):
		s = se.status
		if err == error(se) {
			msg = se.msg
		}
	case errors.As(err, &s):
		if err == error(s) {
			msg = ""
		}
	default:
		s = abi.Internal
	}
	if s == abi.OK || !s.Known() {
		s = abi.Internal
	}
	return s, msg
}
