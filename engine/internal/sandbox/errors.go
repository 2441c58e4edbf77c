package sandbox

import (
	"strconv"
	"strings"

	"github.com/sesamehq/sesame/abi"
)

// Error reports a failed call or load. It wraps its Status, so that
// errors.Is(err, abi.NotFound) works.
type Error struct {
	Export  string     // the guest export called, or "" for load errors
	Status  abi.Status // never abi.OK
	Message string     // the guest's message or the host's diagnosis; never a secret
	// Stderr is the tail of the guest's stderr when it trapped or exited. It is
	// for operators who debug an extension and is left out of Error(): a
	// guest's panic text may quote anything, secrets included.
	Stderr string
	// Grants are, in a load error, the grants the guest's manifest asks
	// for that its registration does not give. Only the host sets them:
	// a guest's message that says as much proves nothing.
	Grants []string
	trap   bool // the instance was discarded
}

// MissingGrants returns e.Grants.
func (e *Error) MissingGrants() []string { return e.Grants }

func (e *Error) Error() string {
	s := e.Status.String()
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns the status.
func (e *Error) Unwrap() error { return e.Status }

func errorf(s abi.Status, export, msg string) *Error {
	return &Error{Export: export, Status: s, Message: msg}
}

func quote(s string) string { return strconv.Quote(s) }

// echoesHost reports whether msg, a guest's error message for status s,
// only repeats how one of its host calls failed: "sesame_v1.kv_set: too
// large", which the Go SDK's HostError reads when a vault returns it as is.
// The status says as much already, and the host adds its own cause where it
// has one ("storage file PATH: …"); the ABI's import names mean nothing to
// a user.
func echoesHost(msg string, s abi.Status) bool {
	name, ok := strings.CutPrefix(msg, abi.ImportModule+".")
	if !ok {
		return false
	}
	name, ok = strings.CutSuffix(name, ": "+s.String())
	return ok && name != "" && strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789_") == ""
}
