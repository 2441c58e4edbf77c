package api

import (
	"context"

	"github.com/sesamehq/sesame/abi"
)

// Op names an operation of the engine, as its errors (Error.Op), the
// actions it reports (Action.Op) and the sesame agent's log name it.
type Op string

// The operations. Most are requests (the request types below); open, mount
// and unregister-hook are the engine's own steps.
const (
	OpSet         Op = "set"
	OpCopy        Op = "copy"
	OpGet         Op = "get"
	OpInfo        Op = "info"
	OpSetInfo     Op = "set-info"
	OpRemove      Op = "remove"
	OpRegister    Op = "register"
	OpUnregister  Op = "unregister"
	OpSetDefault  Op = "set-default"
	OpVaults      Op = "vaults"
	OpManifest    Op = "manifest"
	OpTest        Op = "test"
	OpUnlock      Op = "unlock"
	OpLock        Op = "lock"
	OpSetPassword Op = "set-password"
	OpRekey       Op = "rekey"
	OpImport      Op = "import"
	// OpIdentity is Identity, and the step of opening a vault granted
	// identity that reads the user's age identity.
	OpIdentity Op = "identity"
	OpMembers  Op = "members"
	OpOpen     Op = "open"
	OpMount    Op = "mount"
	// OpUnregisterHook is the step of Unregister that runs the vault's
	// unregister hook: its Error is the hook's failure, which leaves the
	// vault registered (UnregisterRequest.Force goes on).
	OpUnregisterHook Op = "unregister-hook"
)

// A Call is one operation of the engine with its arguments, whatever its
// result: what a Transport carries and engine.Engine.Do runs. The request
// types of this file are the engine's operations; each is defined there
// once, and runs the same in this process (engine.Engine.Do) and in the
// sesame agent, whose wire carries any of them (internal/agent).
//
// Adding an operation: declare its request type below, with Op, result and
// Run; write its method of *engine.Engine, which takes the request (the
// logic and its doc), and add it to Engine; list it in Operations with its
// result type; give it its CLI command. Nothing else:
// the agent carries it, its callbacks and its secret bytes included
// (internal/agent/call.go), and its errors cross as Codes. TestOperations
// checks the list, the agent's TestSameResults the two transports.
type Call interface {
	// Op names the operation.
	Op() Op
	// Run runs the operation on e and returns its result: the R of the
	// call's Request type, or nil for none.
	Run(ctx context.Context, e Engine) (any, error)
}

// Engine is the operations, one method each, which a Call's Run calls:
// *engine.Engine implements it, holding their logic and documentation.
// A program that needs an engine opens one with engine.Open; this
// interface exists so that the requests can be declared, and carried by
// the agent's client, without linking the engine.
type Engine interface {
	Set(context.Context, SetRequest) (Action, error)
	Copy(context.Context, CopyRequest) (Action, error)
	Get(context.Context, GetRequest) (Secret, error)
	Info(context.Context, InfoRequest) ([]Info, error)
	SetInfo(context.Context, SetInfoRequest) (Action, error)
	Remove(context.Context, RemoveRequest) (Action, error)
	Register(context.Context, RegisterRequest) error
	Unregister(context.Context, UnregisterRequest) error
	SetDefault(context.Context, SetDefaultRequest) error
	Vaults(context.Context) ([]Registration, error)
	Manifest(context.Context, ManifestRequest) (abi.Manifest, error)
	Test(context.Context, TestRequest) error
	Unlock(context.Context, UnlockRequest) error
	Lock(context.Context, LockRequest) error
	SetPassword(context.Context, SetPasswordRequest) error
	Rekey(context.Context, RekeyRequest) error
	Import(context.Context, ImportRequest) (ImportResult, error)
	Identity(context.Context) (string, error)
	Members(context.Context, MembersRequest) (abi.Members, error)
}

// A Request is a Call whose result is an R: Do returns it typed.
type Request[R any] interface {
	Call
	result() R // names R; never called
}

// A Transport runs calls: *engine.Engine in this process, agent.Remote in
// the sesame agent. Both behave the same, errors included.
type Transport interface {
	Do(ctx context.Context, c Call) (any, error)
}

// Do runs req on t and returns its result. On an error the result is what
// the operation returns with it (Info's partial list), else the zero R.
func Do[R any](ctx context.Context, t Transport, req Request[R]) (R, error) {
	v, err := t.Do(ctx, req)
	r, _ := v.(R)
	return r, err
}

// None is the result of a request that returns only an error.
type None = struct{}

// Operation is an entry of Operations: a request type and its result type,
// each as a zero value.
type Operation struct {
	Request Call
	Result  any // nil for None
}

// def is the entry of request type Q, which the compiler checks returns R.
func def[R any, Q Request[R]]() Operation {
	var q Q
	var r R
	if _, none := any(r).(None); none {
		return Operation{Request: q}
	}
	return Operation{Request: q, Result: r}
}

// Operations lists every request type with its result type: the list a
// transport registers with its codec (the agent's gob). A request type
// missing here fails through the agent ("type not registered"); a test
// runs each through both transports.
func Operations() []Operation {
	return []Operation{
		def[Action, SetRequest](),
		def[Action, CopyRequest](),
		def[Secret, GetRequest](),
		def[[]Info, InfoRequest](),
		def[Action, SetInfoRequest](),
		def[Action, RemoveRequest](),
		def[None, RegisterRequest](),
		def[None, UnregisterRequest](),
		def[None, SetDefaultRequest](),
		def[[]Registration, VaultsRequest](),
		def[abi.Manifest, ManifestRequest](),
		def[None, TestRequest](),
		def[None, UnlockRequest](),
		def[None, LockRequest](),
		def[None, SetPasswordRequest](),
		def[None, RekeyRequest](),
		def[ImportResult, ImportRequest](),
		def[string, IdentityRequest](),
		def[abi.Members, MembersRequest](),
	}
}

// The requests. Each is the parameters of the Engine method of its name,
// which takes it, and whose documentation is the operation's: the one
// definition of each operation's parameters, for both transports. A request
// that names a vault does so in its Vault field, after the secret it is
// about; a writing request embeds Change. A callback (Change.Confirm,
// RegisterRequest.Report) is called in the caller's process, whatever the
// transport.

// SetRequest is Set: it returns an Action.
type SetRequest struct {
	Name      string
	Vault     string   // the target vault; "" = the default vault
	Value     any      // a []byte, string, SecureString, Credential or Hashtable
	Metadata  Metadata // nil: none given (a replaced secret keeps its metadata)
	NoClobber bool     // refuse to replace an existing secret
	Change
}

func (SetRequest) Op() Op         { return OpSet }
func (SetRequest) result() Action { return Action{} }
func (r SetRequest) Run(ctx context.Context, e Engine) (any, error) {
	return e.Set(ctx, r)
}

// CopyRequest is Copy: it returns an Action.
type CopyRequest struct {
	From      Info   // the secret to copy: its Name and, "" for the search of Get, its Vault
	Vault     string // the target vault (required)
	NoClobber bool   // refuse to replace an existing secret
	Change
}

func (CopyRequest) Op() Op         { return OpCopy }
func (CopyRequest) result() Action { return Action{} }
func (r CopyRequest) Run(ctx context.Context, e Engine) (any, error) {
	return e.Copy(ctx, r)
}

// GetRequest is Get: it returns a Secret.
type GetRequest struct {
	Name  string
	Vault string // "" = the default vault, then the others (see Get)
}

func (GetRequest) Op() Op         { return OpGet }
func (GetRequest) result() Secret { return Secret{} }
func (r GetRequest) Run(ctx context.Context, e Engine) (any, error) {
	return e.Get(ctx, r)
}

// InfoRequest is Info: it returns a []Info, partial with an error when some
// vaults failed.
type InfoRequest struct {
	Pattern string // '*' any run, '?' one character; "" = all
	Vault   string // "" = every vault that Get searches
}

func (InfoRequest) Op() Op         { return OpInfo }
func (InfoRequest) result() []Info { return nil }
func (r InfoRequest) Run(ctx context.Context, e Engine) (any, error) {
	return e.Info(ctx, r)
}

// SetInfoRequest is SetInfo: it returns an Action.
type SetInfoRequest struct {
	Name     string
	Vault    string   // "" = the default vault
	Metadata Metadata // replaces the secret's metadata; nil or empty clears it
	Change
}

func (SetInfoRequest) Op() Op         { return OpSetInfo }
func (SetInfoRequest) result() Action { return Action{} }
func (r SetInfoRequest) Run(ctx context.Context, e Engine) (any, error) {
	return e.SetInfo(ctx, r)
}

// RemoveRequest is Remove: it returns an Action.
type RemoveRequest struct {
	Name  string
	Vault string // required: no default
	Change
}

func (RemoveRequest) Op() Op         { return OpRemove }
func (RemoveRequest) result() Action { return Action{} }
func (r RemoveRequest) Run(ctx context.Context, e Engine) (any, error) {
	return e.Remove(ctx, r)
}

// RegisterRequest is Register. Through the agent, the agent reads the
// extension's file itself: give it as an absolute path or one relative to
// the registry.
type RegisterRequest struct {
	Registration Registration // the vault: its Name, extension, grants; Default and Mounted are ignored
	AllowClobber bool         // replace a vault registered under the same name
	Default      bool         // make it the default vault (the first vault always is)
	// KeepStorage hands the storage area the name has now (that of the
	// replaced registration, or one an earlier sesame release left for
	// the name) to the new extension, which can then read all of it.
	// Without it another extension gets an area of its own.
	KeepStorage bool
	// Pin writes the sha256 of the module file, as read to check it, into
	// the registration (when SHA256 is empty; a given SHA256 is checked
	// instead). A builtin extension is not pinned: it is part of sesame and
	// changes with each upgrade, which the pin would then refuse.
	Pin bool
	// Report, when set, is told what became of the storage area once the
	// registration is written.
	Report func(StorageReport)
}

func (RegisterRequest) Op() Op       { return OpRegister }
func (RegisterRequest) result() None { return None{} }
func (r RegisterRequest) Run(ctx context.Context, e Engine) (any, error) {
	return nil, e.Register(ctx, r)
}

// UnregisterRequest is Unregister.
type UnregisterRequest struct {
	Vault         string
	RemoveStorage bool // delete the vault's storage area instead of keeping it
	// Force unregisters the vault even when its unregister hook fails (the
	// failure is then logged as a warning).
	Force bool
	// Report, when set, is told what became of the storage area once the
	// registration is removed; not called when the vault had none.
	Report func(StorageReport)
}

func (UnregisterRequest) Op() Op       { return OpUnregister }
func (UnregisterRequest) result() None { return None{} }
func (r UnregisterRequest) Run(ctx context.Context, e Engine) (any, error) {
	return nil, e.Unregister(ctx, r)
}

// SetDefaultRequest is SetDefault.
type SetDefaultRequest struct {
	Vault string // "" = no default vault
}

func (SetDefaultRequest) Op() Op       { return OpSetDefault }
func (SetDefaultRequest) result() None { return None{} }
func (r SetDefaultRequest) Run(ctx context.Context, e Engine) (any, error) {
	return nil, e.SetDefault(ctx, r)
}

// VaultsRequest is Vaults: it returns a []Registration.
type VaultsRequest struct{}

func (VaultsRequest) Op() Op                 { return OpVaults }
func (VaultsRequest) result() []Registration { return nil }
func (VaultsRequest) Run(ctx context.Context, e Engine) (any, error) {
	return e.Vaults(ctx)
}

// ManifestRequest is Manifest: it returns an abi.Manifest.
type ManifestRequest struct{ Vault string }

func (ManifestRequest) Op() Op               { return OpManifest }
func (ManifestRequest) result() abi.Manifest { return abi.Manifest{} }
func (r ManifestRequest) Run(ctx context.Context, e Engine) (any, error) {
	return e.Manifest(ctx, r)
}

// TestRequest is Test.
type TestRequest struct{ Vault string }

func (TestRequest) Op() Op       { return OpTest }
func (TestRequest) result() None { return None{} }
func (r TestRequest) Run(ctx context.Context, e Engine) (any, error) {
	return nil, e.Test(ctx, r)
}

// UnlockRequest is Unlock. Through the agent, the agent keeps the vault
// unlocked for its password timeout, for every client.
type UnlockRequest struct {
	Vault    string
	Password []byte
}

func (UnlockRequest) Op() Op       { return OpUnlock }
func (UnlockRequest) result() None { return None{} }
func (r UnlockRequest) Run(ctx context.Context, e Engine) (any, error) {
	return nil, e.Unlock(ctx, r)
}

// LockRequest is Lock.
type LockRequest struct{ Vault string }

func (LockRequest) Op() Op       { return OpLock }
func (LockRequest) result() None { return None{} }
func (r LockRequest) Run(ctx context.Context, e Engine) (any, error) {
	return nil, e.Lock(ctx, r)
}

// SetPasswordRequest is SetPassword.
type SetPasswordRequest struct {
	Vault    string
	Old, New []byte // Old is empty when the vault has no password yet
}

func (SetPasswordRequest) Op() Op       { return OpSetPassword }
func (SetPasswordRequest) result() None { return None{} }
func (r SetPasswordRequest) Run(ctx context.Context, e Engine) (any, error) {
	return nil, e.SetPassword(ctx, r)
}

// RekeyRequest is Rekey.
type RekeyRequest struct {
	Vault    string
	Password []byte // empty for a vault without a password
}

func (RekeyRequest) Op() Op       { return OpRekey }
func (RekeyRequest) result() None { return None{} }
func (r RekeyRequest) Run(ctx context.Context, e Engine) (any, error) {
	return nil, e.Rekey(ctx, r)
}

// ImportRequest is Import: it returns an ImportResult, with an error too
// (its Failed names the secret that failed).
type ImportRequest struct {
	Vault     string // the target vault; "" = the default vault
	Secrets   []ImportSecret
	NoClobber bool // refuse to replace an existing secret that differs
	Change         // Confirm is asked once for the batch (an OpImport Action)
}

func (ImportRequest) Op() Op               { return OpImport }
func (ImportRequest) result() ImportResult { return ImportResult{} }
func (r ImportRequest) Run(ctx context.Context, e Engine) (any, error) {
	return e.Import(ctx, r)
}

// Run runs req, which returns only an error, on t.
func Run(ctx context.Context, t Transport, req Request[None]) error {
	_, err := t.Do(ctx, req)
	return err
}

// IdentityRequest is Identity: it returns the user's age recipient.
type IdentityRequest struct{}

func (IdentityRequest) Op() Op         { return OpIdentity }
func (IdentityRequest) result() string { return "" }
func (r IdentityRequest) Run(ctx context.Context, e Engine) (any, error) {
	return e.Identity(ctx)
}

// MembersRequest is Members: it returns the vault's member list after the
// action.
type MembersRequest struct {
	Vault string
	// Action is abi.MembersList, MembersAdd, MembersRemove or
	// MembersAccept.
	Action    string
	Recipient string // the member to add or remove (age1…)
	Digest    string // for accept: the Members.Digest the user was shown
}

func (MembersRequest) Op() Op              { return OpMembers }
func (MembersRequest) result() abi.Members { return abi.Members{} }
func (r MembersRequest) Run(ctx context.Context, e Engine) (any, error) {
	return e.Members(ctx, r)
}
