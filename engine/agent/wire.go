package agent

import (
	"context"
	"encoding/gob"
	"errors"
	"io/fs"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
)

// The protocol is a stream of gob values over the connection. The server
// speaks first: a response with its Version, and an Err when it refuses the
// client. Then the client sends a request, the server answers with a
// response. While it runs a
// writing operation whose request asked for confirmation, the server may
// send a response holding only a question (Confirm), and the client answers
// with a request whose Op is opConfirm before the final response comes.
// One connection carries one request at a time.
//
// Version names the protocol; a client and a server of different versions
// refuse each other: the client reports the mismatch (the sesame command
// then works alone until the old agent exits).
const Version = 1

// The operations.
const (
	opConfirm     = "confirm"
	opStop        = "stop"
	opStatus      = "status"
	opSet         = "set"
	opCopy        = "copy"
	opGet         = "get"
	opInfo        = "info"
	opSetInfo     = "set-info"
	opRemove      = "remove"
	opRegister    = "register"
	opUnregister  = "unregister"
	opSetDefault  = "set-default"
	opVaults      = "vaults"
	opManifest    = "manifest"
	opTest        = "test"
	opUnlock      = "unlock"
	opLock        = "lock"
	opSetPassword = "set-password"
)

// target names the engine a request runs on: its registry file and folders,
// as engine.Open takes them.
type target struct {
	Path     string // absolute
	DataDir  string
	CacheDir string
	NoCache  bool
}

// request is what the client sends. Only the fields of its Op are set.
type request struct {
	Op     string
	Target target
	Env    []string // the client's environment, for variables granted to extensions

	Name, Vault, Pattern string
	Value                any
	Metadata             engine.Metadata
	Info                 engine.Info
	Set                  setOptions
	Change               change
	Registration         engine.Registration
	Register             engine.RegisterOptions
	Password, New        []byte

	Yes bool // opConfirm: the answer
}

// setOptions is engine.SetOptions without its callback.
type setOptions struct {
	Vault     string
	Metadata  engine.Metadata
	NoClobber bool
	Change    change
}

// change is engine.Change with the callback replaced by a flag: ask the
// client.
type change struct {
	WhatIf  bool
	Confirm bool
}

// response is what the server sends.
type response struct {
	Confirm *engine.Action // a question, not the answer: reply with opConfirm

	Err      *wireError
	Action   engine.Action
	Secret   engine.Secret
	Infos    []engine.Info
	Vaults   []engine.Registration
	Manifest abi.Manifest
	Status   Status
	Version  int    // the greeting
	Build    string // the greeting
}

// Status describes a running agent.
type Status struct {
	PID        int
	Started    time.Time
	Idle       time.Duration // the idle period after which it exits; 0 = never
	Registries []string      // the registry files it has engines open for
	Unlocked   []Unlocked    // the vaults it holds unlocked, by registry and name
}

// Unlocked is a vault the agent holds unlocked (engine.Engine.Unlocked), in
// the registry file Registry.
type Unlocked struct {
	Registry string
	engine.Unlocked
}

func init() {
	// The types that travel in interface values (secret values, metadata
	// values, registration parameters) beyond those gob knows already.
	gob.Register(engine.SecureString(""))
	gob.Register(engine.Credential{})
	gob.Register(engine.Hashtable(nil))
	gob.Register(map[string]any(nil))
	gob.Register([]any(nil))
	gob.Register(time.Time{})
}

// sentinels are the errors that cross the socket as themselves, so that
// errors.Is works on the client as it does on the server.
var sentinels = []error{
	engine.ErrSecretNotFound, engine.ErrVaultNotFound, engine.ErrVaultExists,
	engine.ErrNoDefaultVault, engine.ErrNoClobber, engine.ErrMetadataUnsupported,
	engine.ErrInvalidName, engine.ErrInvalidValue, engine.ErrInvalidArgument,
	engine.ErrPermissionDenied, engine.ErrLocked, engine.ErrConflict,
	engine.ErrUnsupported, engine.ErrUnavailable, engine.ErrTooLarge,
	engine.ErrExtension, engine.ErrDeadline, engine.ErrDeclined, engine.ErrRegistry,
	context.Canceled, context.DeadlineExceeded,
	fs.ErrNotExist, fs.ErrExist, fs.ErrPermission,
}

// wireError is an error tree in transit. An *engine.Error keeps its fields
// (its message is rebuilt from them), a sentinel its index, and any other
// error its message and the errors it wraps.
type wireError struct {
	Sentinel int // 1 + index in sentinels; 0 = not a sentinel
	Engine   bool
	Op       string
	Vault    string
	Secret   string
	Text     string
	Wrapped  []wireError
}

// encodeError converts err for the wire.
func encodeError(err error) *wireError {
	if err == nil {
		return nil
	}
	w := encodeNode(err)
	return &w
}

func encodeNode(err error) wireError {
	for i, s := range sentinels {
		if err == s {
			return wireError{Sentinel: i + 1}
		}
	}
	if e, ok := err.(*engine.Error); ok {
		w := wireError{Engine: true, Op: e.Op, Vault: e.Vault, Secret: e.Secret}
		if e.Err != nil {
			w.Wrapped = []wireError{encodeNode(e.Err)}
		}
		return w
	}
	w := wireError{Text: err.Error()}
	switch x := err.(type) {
	case interface{ Unwrap() error }:
		if u := x.Unwrap(); u != nil {
			w.Wrapped = []wireError{encodeNode(u)}
		}
	case interface{ Unwrap() []error }:
		for _, u := range x.Unwrap() {
			if u != nil {
				w.Wrapped = append(w.Wrapped, encodeNode(u))
			}
		}
	}
	return w
}

// decode rebuilds the error: same message, same sentinels, same
// *engine.Error values for errors.Is and errors.As.
func (w *wireError) decode() error {
	if w == nil {
		return nil
	}
	switch {
	case w.Sentinel > 0 && w.Sentinel <= len(sentinels):
		return sentinels[w.Sentinel-1]
	case w.Engine:
		e := &engine.Error{Op: w.Op, Vault: w.Vault, Secret: w.Secret}
		if len(w.Wrapped) > 0 {
			e.Err = w.Wrapped[0].decode()
		}
		return e
	}
	r := &remoteError{text: w.Text}
	for i := range w.Wrapped {
		r.wrapped = append(r.wrapped, w.Wrapped[i].decode())
	}
	return r
}

// remoteError is an error that came over the socket.
type remoteError struct {
	text    string
	wrapped []error
}

func (r *remoteError) Error() string   { return r.text }
func (r *remoteError) Unwrap() []error { return r.wrapped }

// errProtocol is a peer that does not speak this protocol.
var errProtocol = errors.New("agent protocol error")
