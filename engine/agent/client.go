package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sesamehq/sesame/abi"
	"github.com/sesamehq/sesame/engine"
	"github.com/sesamehq/sesame/internal/xdg"
)

// ErrNotRunning is returned by Dial when no agent answers.
var ErrNotRunning = errors.New("no sesame agent is running")

// Client is a connection to the agent. It carries one request at a time;
// its methods may be called from several goroutines.
type Client struct {
	mu    sync.Mutex
	nc    net.Conn
	st    *stream
	dead  error  // set when the connection broke
	build string // the agent's, from its greeting
}

// Dial connects to the agent whose socket is in dir, checks that it runs as
// this user, and reads its greeting.
func Dial(dir string) (*Client, error) {
	if err := checkDir(dir, false); err != nil {
		return nil, err
	}
	nc, err := net.DialTimeout("unix", filepath.Join(dir, socketName), 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotRunning, err)
	}
	uid, err := peerUID(nc)
	if err == nil && uid != os.Getuid() {
		err = fmt.Errorf("%w: the process at %s runs as user %d, not as user %d", engine.ErrPermissionDenied, filepath.Join(dir, socketName), uid, os.Getuid())
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	c := &Client{nc: nc, st: newStream(nc, maxResponse, 0)}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hello response
	err = c.st.recv(&hello)
	nc.SetReadDeadline(time.Time{})
	switch {
	case err != nil:
		err = fmt.Errorf("%w: no greeting from %s: %w", engine.ErrUnavailable, filepath.Join(dir, socketName), err)
	case hello.Err != nil:
		err = hello.Err.decode()
	case hello.Version != Version:
		err = fmt.Errorf("%w: the sesame agent speaks version %d of the protocol, this command %d (stop it with: sesame agent stop)", errProtocol, hello.Version, Version)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.build = hello.Build
	return c, nil
}

// Build names the program the agent runs (RunOptions.Build).
func (c *Client) Build() string { return c.build }

// Close closes the connection.
func (c *Client) Close() error { return c.nc.Close() }

// call sends req and returns the final response; confirm answers the
// server's questions.
func (c *Client) call(ctx context.Context, req *request, confirm func(engine.Action) bool) (*response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead != nil {
		return nil, c.dead
	}
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetDeadline(dl)
		defer c.nc.SetDeadline(time.Time{})
	}
	// A canceled context ends the call at once: the connection is closed,
	// and the agent, seeing it go, cancels the request.
	defer context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })()
	err := c.st.enc.Encode(req)
	for err == nil {
		var r response
		if err = c.st.recv(&r); err != nil {
			break
		}
		if r.Confirm == nil {
			return &r, r.Err.decode()
		}
		yes := confirm != nil && confirm(*r.Confirm)
		err = c.st.enc.Encode(&request{Op: opConfirm, Yes: yes})
	}
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	c.dead = &engine.Error{Op: req.Op, Err: fmt.Errorf("%w: the connection to the sesame agent broke: %w", engine.ErrUnavailable, err)}
	c.nc.Close()
	return nil, c.dead
}

// Stop asks the agent to stop. It forgets every key at once.
func (c *Client) Stop(ctx context.Context) error {
	_, err := c.call(ctx, &request{Op: opStop}, nil)
	return err
}

// Status describes the agent.
func (c *Client) Status(ctx context.Context) (Status, error) {
	r, err := c.call(ctx, &request{Op: opStatus}, nil)
	if err != nil {
		return Status{}, err
	}
	return r.Status, nil
}

// Engine returns the agent's engine over the registry file at path, with
// the data and cache folders of opts (as engine.Open takes them; an empty
// folder means the default). Its methods are those of *engine.Engine and
// behave the same, errors included; the engine is opened in the agent on
// first use and stays open there.
func (c *Client) Engine(path string, opts *engine.Options) (*Remote, error) {
	var o engine.Options
	if opts != nil {
		o = *opts
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	t := target{Path: abs, NoCache: o.NoCache}
	if t.DataDir, err = absOr(o.DataDir, xdg.DataDir); err != nil {
		return nil, err
	}
	if !o.NoCache {
		if t.CacheDir, err = absOr(o.CacheDir, xdg.CacheDir); err != nil {
			return nil, err
		}
	}
	return &Remote{c: c, t: t}, nil
}

// absOr returns dir made absolute, or the default folder engine.Open would
// use.
func absOr(dir string, def func() (string, error)) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	return def()
}

// Engine is what *engine.Engine and *Remote both offer: a program written
// against it works the same in its own process and through the agent.
type Engine interface {
	Path() string
	Set(ctx context.Context, name string, value any, opts engine.SetOptions) (engine.Action, error)
	Copy(ctx context.Context, from engine.Info, opts engine.SetOptions) (engine.Action, error)
	Get(ctx context.Context, name, vault string) (engine.Secret, error)
	Info(ctx context.Context, pattern, vault string) ([]engine.Info, error)
	SetInfo(ctx context.Context, name string, md engine.Metadata, vault string, c engine.Change) (engine.Action, error)
	Remove(ctx context.Context, name, vault string, c engine.Change) (engine.Action, error)
	Register(ctx context.Context, r engine.Registration, opts engine.RegisterOptions) error
	Unregister(ctx context.Context, name string, opts engine.UnregisterOptions) error
	SetDefault(ctx context.Context, name string) error
	Vaults() ([]engine.Registration, error)
	Manifest(ctx context.Context, vault string) (abi.Manifest, error)
	Test(ctx context.Context, vault string) error
	Unlock(ctx context.Context, vault string, password []byte) error
	Lock(ctx context.Context, vault string) error
	SetPassword(ctx context.Context, vault string, old, new []byte) error
}

var (
	_ Engine = (*engine.Engine)(nil)
	_ Engine = (*Remote)(nil)
)

// Remote is an engine that runs in the agent.
type Remote struct {
	c *Client
	t target
}

// Path returns the absolute path of the registry file.
func (r *Remote) Path() string { return r.t.Path }

func (r *Remote) call(ctx context.Context, req *request, confirm func(engine.Action) bool) (*response, error) {
	req.Target = r.t
	for _, kv := range os.Environ() {
		req.Env = append(req.Env, []byte(kv))
	}
	return r.c.call(ctx, req, confirm)
}

// Set is engine.Engine.Set.
func (r *Remote) Set(ctx context.Context, name string, value any, opts engine.SetOptions) (engine.Action, error) {
	resp, err := r.call(ctx, &request{Op: opSet, Name: name, Value: value, Set: wireSet(opts)}, opts.Confirm)
	return action(resp), err
}

// Copy is engine.Engine.Copy.
func (r *Remote) Copy(ctx context.Context, from engine.Info, opts engine.SetOptions) (engine.Action, error) {
	resp, err := r.call(ctx, &request{Op: opCopy, Info: from, Set: wireSet(opts)}, opts.Confirm)
	return action(resp), err
}

// Get is engine.Engine.Get.
func (r *Remote) Get(ctx context.Context, name, vault string) (engine.Secret, error) {
	resp, err := r.call(ctx, &request{Op: opGet, Name: name, Vault: vault}, nil)
	if resp == nil {
		return engine.Secret{}, err
	}
	return resp.Secret, err
}

// Info is engine.Engine.Info: on a partial failure it returns what the
// vaults that answered found, with the error.
func (r *Remote) Info(ctx context.Context, pattern, vault string) ([]engine.Info, error) {
	resp, err := r.call(ctx, &request{Op: opInfo, Pattern: pattern, Vault: vault}, nil)
	if resp == nil {
		return nil, err
	}
	return resp.Infos, err
}

// SetInfo is engine.Engine.SetInfo.
func (r *Remote) SetInfo(ctx context.Context, name string, md engine.Metadata, vault string, c engine.Change) (engine.Action, error) {
	resp, err := r.call(ctx, &request{Op: opSetInfo, Name: name, Metadata: md, Vault: vault, Change: wireChange(c)}, c.Confirm)
	return action(resp), err
}

// Remove is engine.Engine.Remove.
func (r *Remote) Remove(ctx context.Context, name, vault string, c engine.Change) (engine.Action, error) {
	resp, err := r.call(ctx, &request{Op: opRemove, Name: name, Vault: vault, Change: wireChange(c)}, c.Confirm)
	return action(resp), err
}

// Register is engine.Engine.Register. The agent reads the extension's file
// itself: give it as an absolute path or one relative to the registry.
func (r *Remote) Register(ctx context.Context, reg engine.Registration, opts engine.RegisterOptions) error {
	resp, err := r.call(ctx, &request{Op: opRegister, Registration: reg, Register: opts}, nil)
	report(resp, err, opts.Report)
	return err
}

// Unregister is engine.Engine.Unregister.
func (r *Remote) Unregister(ctx context.Context, name string, opts engine.UnregisterOptions) error {
	resp, err := r.call(ctx, &request{Op: opUnregister, Vault: name, Unregister: opts}, nil)
	report(resp, err, opts.Report)
	return err
}

// report hands the agent's storage report of a successful register or
// unregister to the caller's Report.
func report(resp *response, err error, to func(engine.StorageReport)) {
	if err == nil && resp != nil && resp.Storage != nil && to != nil {
		to(*resp.Storage)
	}
}

// SetDefault is engine.Engine.SetDefault.
func (r *Remote) SetDefault(ctx context.Context, name string) error {
	_, err := r.call(ctx, &request{Op: opSetDefault, Vault: name}, nil)
	return err
}

// Vaults is engine.Engine.Vaults.
func (r *Remote) Vaults() ([]engine.Registration, error) {
	resp, err := r.call(context.Background(), &request{Op: opVaults}, nil)
	if resp == nil {
		return nil, err
	}
	return resp.Vaults, err
}

// Manifest is engine.Engine.Manifest.
func (r *Remote) Manifest(ctx context.Context, vault string) (abi.Manifest, error) {
	resp, err := r.call(ctx, &request{Op: opManifest, Vault: vault}, nil)
	if resp == nil {
		return abi.Manifest{}, err
	}
	return resp.Manifest, err
}

// Test is engine.Engine.Test.
func (r *Remote) Test(ctx context.Context, vault string) error {
	_, err := r.call(ctx, &request{Op: opTest, Vault: vault}, nil)
	return err
}

// Unlock is engine.Engine.Unlock: the agent keeps the vault unlocked for
// its password timeout, for every client.
func (r *Remote) Unlock(ctx context.Context, vault string, password []byte) error {
	_, err := r.call(ctx, &request{Op: opUnlock, Vault: vault, Password: password}, nil)
	return err
}

// Lock is engine.Engine.Lock: the agent's vault forgets its keys at once.
func (r *Remote) Lock(ctx context.Context, vault string) error {
	_, err := r.call(ctx, &request{Op: opLock, Vault: vault}, nil)
	return err
}

// SetPassword is engine.Engine.SetPassword.
func (r *Remote) SetPassword(ctx context.Context, vault string, old, new []byte) error {
	_, err := r.call(ctx, &request{Op: opSetPassword, Vault: vault, Password: old, New: new}, nil)
	return err
}

func wireChange(c engine.Change) change { return change{WhatIf: c.WhatIf, Confirm: c.Confirm != nil} }

func wireSet(o engine.SetOptions) setOptions {
	return setOptions{Vault: o.Vault, Metadata: o.Metadata, NoClobber: o.NoClobber, Change: wireChange(o.Change)}
}

func action(r *response) engine.Action {
	if r == nil {
		return engine.Action{}
	}
	return r.Action
}
