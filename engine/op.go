package engine

import (
	"context"

	"github.com/sesamehq/sesame/engine/api"
)

// The operations' vocabulary is declared in package api, which the sesame
// command and the agent's client use without linking the engine; these
// aliases keep every name where programs found it. See api for each.

// Op names an operation of the engine (api.Op).
type Op = api.Op

// The operations.
const (
	OpSet            = api.OpSet
	OpCopy           = api.OpCopy
	OpGet            = api.OpGet
	OpInfo           = api.OpInfo
	OpSetInfo        = api.OpSetInfo
	OpRemove         = api.OpRemove
	OpRegister       = api.OpRegister
	OpUnregister     = api.OpUnregister
	OpSetDefault     = api.OpSetDefault
	OpVaults         = api.OpVaults
	OpManifest       = api.OpManifest
	OpTest           = api.OpTest
	OpUnlock         = api.OpUnlock
	OpLock           = api.OpLock
	OpSetPassword    = api.OpSetPassword
	OpRekey          = api.OpRekey
	OpImport         = api.OpImport
	OpIdentity       = api.OpIdentity
	OpMembers        = api.OpMembers
	OpOpen           = api.OpOpen
	OpMount          = api.OpMount
	OpUnregisterHook = api.OpUnregisterHook
)

// The calls, their transports and the list of operations.
type (
	Call      = api.Call
	Transport = api.Transport
	Operation = api.Operation
	None      = api.None
)

// A Request is a Call whose result is an R (api.Request).
type Request[R any] = api.Request[R]

// The requests, one per operation: the parameters of the Engine method of
// its name.
type (
	SetRequest         = api.SetRequest
	CopyRequest        = api.CopyRequest
	GetRequest         = api.GetRequest
	InfoRequest        = api.InfoRequest
	SetInfoRequest     = api.SetInfoRequest
	RemoveRequest      = api.RemoveRequest
	RegisterRequest    = api.RegisterRequest
	UnregisterRequest  = api.UnregisterRequest
	SetDefaultRequest  = api.SetDefaultRequest
	VaultsRequest      = api.VaultsRequest
	ManifestRequest    = api.ManifestRequest
	TestRequest        = api.TestRequest
	UnlockRequest      = api.UnlockRequest
	LockRequest        = api.LockRequest
	SetPasswordRequest = api.SetPasswordRequest
	RekeyRequest       = api.RekeyRequest
	ImportRequest      = api.ImportRequest
	IdentityRequest    = api.IdentityRequest
	MembersRequest     = api.MembersRequest
)

// Do runs req on t and returns its result (api.Do).
func Do[R any](ctx context.Context, t Transport, req Request[R]) (R, error) {
	return api.Do(ctx, t, req)
}

// Run runs req, which returns only an error, on t (api.Run).
func Run(ctx context.Context, t Transport, req Request[None]) error { return api.Run(ctx, t, req) }

// Operations lists every request type with its result type (api.Operations).
func Operations() []Operation { return api.Operations() }

// Do runs c in this process: the in-process transport.
func (e *Engine) Do(ctx context.Context, c Call) (any, error) { return c.Run(ctx, e) }

// The Engine is what the requests run on.
var _ api.Engine = (*Engine)(nil)
