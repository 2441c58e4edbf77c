package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/sesamehq/sesame/engine/api"
	"github.com/sesamehq/sesame/internal/xdg"
)

// ErrNotRunning is returned by Dial when no agent answers.
var ErrNotRunning = errors.New("no sesame agent is running")

// Client is a connection to the agent. It carries one request at a time;
// its methods may be called from several goroutines.
type Client struct {
	mu      sync.Mutex
	dir     string
	nc      net.Conn
	st      *stream
	dead    error  // set when the connection broke
	greeted bool   // the greeting was read
	build   string // the agent's, from its greeting

	// want is the agent build the client's calls are meant for (""
	// any): a greeting of another build ends the first call, which that
	// agent refuses unrun. replace then stops that agent (or one of
	// another version) and dials one started from the caller's program,
	// once (DialOrStart); without it, the call fails.
	want    string
	replace func(other error) (*Client, error)
}

// Dial connects to the agent whose socket is in dir, checks that it runs as
// this user, and reads its greeting.
func Dial(dir string) (*Client, error) {
	c, err := connect(dir)
	if err != nil {
		return nil, err
	}
	_, sent := c.nc.Write([]byte(preface))
	if err = c.greetAfter(sent, time.Time{}); err != nil {
		c.nc.Close()
		return nil, err
	}
	return c, nil
}

// connect connects to the agent whose socket is in dir and checks that it
// runs as this user: a client that may send a request at once, which Dial
// sends nothing on and reads nothing from.
func connect(dir string) (*Client, error) {
	if err := checkDir(dir, false); err != nil {
		return nil, err
	}
	nc, err := net.DialTimeout("unix", filepath.Join(dir, socketName), 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotRunning, err)
	}
	uid, err := peerUID(nc)
	if err == nil && uid != os.Getuid() {
		err = fmt.Errorf("%w: the process at %s runs as user %d, not as user %d", api.ErrPermissionDenied, filepath.Join(dir, socketName), uid, os.Getuid())
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &Client{dir: dir, nc: nc, st: newStream(nc, maxResponse, 0)}, nil
}

// greet reads the agent's greeting, within 5 seconds or by deadline if
// that is sooner, and checks its version, and its build against c.want.
// The connection's read deadline is deadline after it.
func (c *Client) greet(deadline time.Time) error {
	dl := time.Now().Add(5 * time.Second)
	if !deadline.IsZero() && deadline.Before(dl) {
		dl = deadline
	}
	c.nc.SetReadDeadline(dl)
	var hello response
	err := c.st.recv(&hello)
	c.nc.SetReadDeadline(deadline)
	sock := filepath.Join(c.dir, socketName)
	switch {
	case errors.Is(err, errMalformed):
		err = fmt.Errorf("%w: the sesame agent at %s speaks another version of the protocol than this command's %d (an agent of an earlier release)", errOtherVersion, sock, Version)
	case err != nil:
		err = fmt.Errorf("%w: no greeting from %s: %w", api.ErrUnavailable, sock, err)
	case hello.Err != nil:
		err = hello.Err.decode()
	case hello.Version != Version:
		err = fmt.Errorf("%w: the sesame agent speaks version %d of the protocol, this command %d", errOtherVersion, hello.Version, Version)
	case c.want != "" && hello.Build != c.want:
		err = errOtherBuild
	}
	if err != nil {
		return err
	}
	c.greeted, c.build = true, hello.Build
	return nil
}

// greetAfter reads the greeting (greet) behind what the client sent, whose
// write failed with sent or not: an agent that dropped the connection
// greeted before it did, so its greeting says why, and a failed write
// counts only once the greeting was read.
func (c *Client) greetAfter(sent error, deadline time.Time) error {
	if err := c.greet(deadline); err != nil {
		return err
	}
	return sent
}

// errOtherVersion is an agent that speaks another version of the protocol:
// DialOrStart and Stop stop it with a signal.
var errOtherVersion error = protocolError("another version")

// errOtherBuild is an agent of another build than a call is meant for
// (request.Build, Client.want): it refuses the call, and DialOrStart's
// client replaces it.
var errOtherBuild error = protocolError("the sesame agent runs another build of sesame than the command's")

// Build names the program the agent runs (RunOptions.Build).
func (c *Client) Build() string { return c.build }

// Close closes the connection.
func (c *Client) Close() error { return c.nc.Close() }

// call sends req and returns the final response; confirm answers the
// server's questions.
//
// The first call of a client that has not read the greeting (DialOrStart)
// sends req right behind the preface, and reads the greeting before the
// response. An agent whose greeting refuses the connection, or that is of
// another version or build, runs nothing of req, which is sent again: to
// the same agent once a connection ends, when it was busy (for up to
// busyWait); else to one that replaces it (Client.replace).
func (c *Client) call(ctx context.Context, req *request, confirm func(api.Action) bool) (*response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.roundTrip(ctx, req, confirm)
	var waited time.Duration
	// Not greeted after a round trip: its greeting failed, or refused it.
	for pause := time.Millisecond; err != nil && !c.greeted; pause = min(2*pause, 100*time.Millisecond) {
		var n *Client
		switch {
		case errors.Is(err, errAgentBusy) && waited < busyWait:
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, err
			case <-t.C:
			}
			waited += pause
			n, err = connect(c.dir)
		case c.replace != nil && (errors.Is(err, errOtherVersion) || errors.Is(err, errOtherBuild) || errors.Is(err, errAgentStopping)):
			n, err = c.replace(err)
			c.replace = nil
		default:
			return r, err
		}
		if err != nil {
			c.dead = err
			return nil, err
		}
		c.dir, c.nc, c.st, c.dead = n.dir, n.nc, n.st, nil
		r, err = c.roundTrip(ctx, req, confirm)
	}
	return r, err
}

// busyWait bounds how long a client's first call waits for a busy agent
// (Server.MaxConns connections open) to take its connection.
const busyWait = 5 * time.Second

// roundTrip is call on the connection the client has.
func (c *Client) roundTrip(ctx context.Context, req *request, confirm func(api.Action) bool) (*response, error) {
	if c.dead != nil {
		return nil, c.dead
	}
	dl, ok := ctx.Deadline()
	if ok {
		c.nc.SetDeadline(dl)
		defer c.nc.SetDeadline(time.Time{})
	}
	// A canceled context ends the call at once: the connection is closed,
	// and the agent, seeing it go, cancels the request.
	nc := c.nc
	defer context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })()
	var err error
	if c.greeted {
		err = c.st.send(req)
	} else {
		req.Build = c.want
		if err = c.greetAfter(c.st.sendAfter(preface, req), dl); err != nil {
			c.nc.Close()
			c.dead = err
			return nil, err
		}
	}
	for err == nil {
		var r response
		if err = c.st.recv(&r); err != nil {
			break
		}
		switch {
		case r.Confirm != nil:
			yes := confirm != nil && confirm(*r.Confirm)
			err = c.st.send(&request{Op: opConfirm, Yes: yes})
		case r.Env != nil:
			answer := &request{Op: opEnv, Env: lookupEnv(r.Env)}
			err = c.st.send(answer)
			wipe(reflect.ValueOf(answer))
		default:
			return &r, r.Err.decode()
		}
	}
	c.nc.Close()
	op := api.Op(req.Op)
	if req.Call != nil {
		op = req.Call.Op()
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		c.dead = &api.Error{Op: op, Err: fmt.Errorf("%w: %w", api.ErrDeadline, ctx.Err())}
	case ctx.Err() != nil:
		c.dead = &api.Error{Op: op, Err: fmt.Errorf("%w: %w", api.ErrUnavailable, ctx.Err())}
	default:
		c.dead = &api.Error{Op: op, Err: fmt.Errorf("%w: the connection to the sesame agent broke: %w", api.ErrUnavailable, err)}
	}
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
// folder means the default): a transport of engine.Do, whose requests
// behave as on *engine.Engine, errors included. The engine is opened in the
// agent on first use and stays open there.
func (c *Client) Engine(path string, opts *api.Options) (*Remote, error) {
	var o api.Options
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
	return &Remote{c: c, t: t, logger: o.Logger}, nil
}

// absOr returns dir made absolute, or the default folder engine.Open would
// use.
func absOr(dir string, def func() (string, error)) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	return def()
}

var _ api.Transport = (*Remote)(nil)

// Remote is an engine that runs in the agent: a transport of
// engine.Do.
type Remote struct {
	c      *Client
	t      target
	logger *slog.Logger // api.Options.Logger: the log lines of each call come back to it
}

// Path returns the absolute path of the registry file.
func (r *Remote) Path() string { return r.t.Path }

// Do runs call in the agent. The call's callbacks are called in this
// process: its confirmation when the agent asks, its report with the
// agent's once the call succeeded. The lines the call logged in the agent
// (a vault's, the engine's) go to the Logger of the api.Options given
// to Client.Engine, once the call ended.
func (r *Remote) Do(ctx context.Context, call api.Call) (any, error) {
	h := hooksOf(call)
	req := &request{Call: call, Target: r.t, Confirm: h.confirm != nil, Report: h.report != nil}
	if r.logger != nil {
		req.Log, req.LogLevel = true, lowestLevel(ctx, r.logger)
	}
	resp, err := r.c.call(ctx, req, h.confirm)
	if resp == nil {
		return nil, err
	}
	if r.logger != nil {
		replay(ctx, r.logger, resp.Logs)
	}
	if err == nil && h.report != nil {
		for _, sr := range resp.Reports {
			h.report(sr)
		}
	}
	return resp.Result, err
}

// lookupEnv returns NAME=value for each variable of names that is set in
// this process: the agent's question for the variables a vault's env
// grant names.
func lookupEnv(names []string) [][]byte {
	var env [][]byte
	for _, k := range names {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, []byte(k+"="+v))
		}
	}
	return env
}
