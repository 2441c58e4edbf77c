package agent

import (
	"cmp"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sesamehq/sesame/engine"
)

// Server runs engine operations for the clients of one user. It keeps one
// engine per registry it is asked about, open until it stops, so unlocked
// vaults stay unlocked (for their password timeout) and extensions stay
// instantiated between clients.
type Server struct {
	// UID is the only user allowed to connect; NewServer sets it to this
	// process's user. Every connection's peer credentials are checked.
	UID int
	// Idle is how long the server waits without a client before it stops;
	// 0 = never.
	Idle time.Duration
	// Build names the program that serves; clients read it from the
	// greeting (Client.Build).
	Build string
	// Logger receives the server's events (start, stop, refused peers) and
	// the extensions' log lines. Never a secret.
	Logger *slog.Logger

	mu       sync.Mutex
	engines  map[target]*engine.Engine
	active   int
	open     map[net.Conn]struct{} // connected clients
	timer    *time.Timer
	ln       net.Listener
	done     chan struct{}
	stopping bool
	reason   string
	started  time.Time
	conns    sync.WaitGroup
}

// NewServer returns a server for this process's user.
func NewServer() *Server {
	return &Server{UID: os.Getuid(), Logger: slog.New(slog.DiscardHandler)}
}

// Serve accepts clients on ln until ctx ends, a client asks the server to
// stop, or it has been idle for Idle. It then waits for the requests in
// flight, closes every engine (their vaults forget their keys) and returns
// why it stopped: "stop request", "idle" or "signal".
func (s *Server) Serve(ctx context.Context, ln net.Listener) (string, error) {
	s.mu.Lock()
	if s.done != nil {
		s.mu.Unlock()
		return "", errors.New("agent: Serve called twice")
	}
	s.ln, s.done, s.started = ln, make(chan struct{}), time.Now()
	s.engines = map[target]*engine.Engine{}
	s.open = map[net.Conn]struct{}{}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Idle > 0 {
		s.timer = time.AfterFunc(s.Idle, s.idleCheck)
	}
	s.mu.Unlock()

	go func() {
		select {
		case <-ctx.Done():
			s.stop("signal")
		case <-s.done:
		}
	}()
	var err error
	for {
		conn, aerr := ln.Accept()
		if aerr != nil {
			s.mu.Lock()
			stopping := s.stopping
			s.mu.Unlock()
			if !stopping {
				err = aerr
				s.stop("accept failed")
			}
			break
		}
		s.enter(conn)
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			defer s.leave(conn)
			s.serveConn(ctx, conn)
		}()
	}
	s.conns.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.engines {
		e.Close()
	}
	s.engines = nil
	return s.reason, err
}

// stop closes the listener once, and ends the wait for the next request on
// every connection (a request in progress finishes); Serve then winds down.
func (s *Server) stop(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return
	}
	s.stopping, s.reason = true, reason
	if s.timer != nil {
		s.timer.Stop()
	}
	close(s.done)
	s.ln.Close()
	for c := range s.open {
		c.SetReadDeadline(time.Now())
	}
}

func (s *Server) enter(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active++
	s.open[c] = struct{}{}
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.stopping {
		c.SetReadDeadline(time.Now())
	}
}

func (s *Server) leave(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	delete(s.open, c)
	if s.active == 0 && s.timer != nil && !s.stopping {
		s.timer.Reset(s.Idle)
	}
}

func (s *Server) idleCheck() {
	s.mu.Lock()
	idle := s.active == 0
	s.mu.Unlock()
	if idle {
		s.stop("idle")
	}
}

// conn is one client connection.
type conn struct {
	enc *gob.Encoder
	dec *gob.Decoder
}

func (s *Server) serveConn(ctx context.Context, nc net.Conn) {
	defer nc.Close()
	c := &conn{enc: gob.NewEncoder(nc), dec: gob.NewDecoder(nc)}
	// The server speaks first: its version, or why it refuses the client.
	if err := s.checkPeer(nc); err != nil {
		c.enc.Encode(&response{Version: Version, Build: s.Build, Err: encodeError(err)})
		return
	}
	if err := c.enc.Encode(&response{Version: Version, Build: s.Build}); err != nil {
		return
	}
	for {
		var req request
		if err := c.dec.Decode(&req); err != nil {
			if !errors.Is(err, io.EOF) {
				s.Logger.Debug("client connection ended", "err", err)
			}
			return
		}
		resp := s.do(ctx, c, &req)
		clearRequest(&req)
		err := c.enc.Encode(resp)
		clearResponse(resp)
		if err != nil {
			return
		}
		if req.Op == opStop {
			s.stop("stop request")
			return
		}
	}
}

// checkPeer refuses a client that does not run as the server's user.
func (s *Server) checkPeer(nc net.Conn) error {
	uid, err := peerUID(nc)
	if err != nil {
		s.Logger.Warn("refused a client", "err", err)
		return fmt.Errorf("%w: cannot check the client's credentials: %w", engine.ErrPermissionDenied, err)
	}
	if uid != s.UID {
		s.Logger.Warn("refused a client of another user", "uid", uid)
		return fmt.Errorf("%w: the sesame agent of user %d does not serve user %d", engine.ErrPermissionDenied, s.UID, uid)
	}
	return nil
}

// do runs one request.
func (s *Server) do(ctx context.Context, c *conn, req *request) *response {
	switch req.Op {
	case opStop:
		return &response{}
	case opStatus:
		return &response{Status: s.status()}
	}
	e, err := s.engine(req.Target)
	if err != nil {
		return &response{Err: encodeError(err)}
	}
	ctx = engine.WithEnv(ctx, envLookup(req.Env))
	r := &response{}
	switch req.Op {
	case opSet:
		r.Action, err = e.Set(ctx, req.Name, req.Value, c.setOptions(req.Set))
	case opCopy:
		r.Action, err = e.Copy(ctx, req.Info, c.setOptions(req.Set))
	case opGet:
		r.Secret, err = e.Get(ctx, req.Name, req.Vault)
	case opInfo:
		r.Infos, err = e.Info(ctx, req.Pattern, req.Vault)
	case opSetInfo:
		r.Action, err = e.SetInfo(ctx, req.Name, req.Metadata, req.Vault, c.change(req.Change))
	case opRemove:
		r.Action, err = e.Remove(ctx, req.Name, req.Vault, c.change(req.Change))
	case opRegister:
		err = e.Register(ctx, req.Registration, req.Register)
	case opUnregister:
		err = e.Unregister(ctx, req.Vault)
	case opSetDefault:
		err = e.SetDefault(ctx, req.Vault)
	case opVaults:
		r.Vaults, err = e.Vaults()
	case opManifest:
		r.Manifest, err = e.Manifest(ctx, req.Vault)
	case opTest:
		err = e.Test(ctx, req.Vault)
	case opUnlock:
		err = e.Unlock(ctx, req.Vault, req.Password)
	case opLock:
		err = e.Lock(ctx, req.Vault)
	case opSetPassword:
		err = e.SetPassword(ctx, req.Vault, req.Password, req.New)
	default:
		err = fmt.Errorf("%w: unknown operation %q", errProtocol, req.Op)
	}
	r.Err = encodeError(err)
	return r
}

// engine returns the engine of t, opening it on first use.
func (s *Server) engine(t target) (*engine.Engine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.engines[t]; e != nil {
		return e, nil
	}
	if s.stopping {
		return nil, &engine.Error{Op: "open", Err: fmt.Errorf("%w: the sesame agent is stopping", engine.ErrUnavailable)}
	}
	if !isAbs(t.Path) || !isAbs(t.DataDir) || (!t.NoCache && !isAbs(t.CacheDir)) {
		return nil, fmt.Errorf("%w: the registry and its folders must be absolute paths", errProtocol)
	}
	e, err := engine.Open(t.Path, &engine.Options{DataDir: t.DataDir, CacheDir: t.CacheDir, NoCache: t.NoCache, Logger: s.Logger})
	if err != nil {
		return nil, err
	}
	s.engines[t] = e
	return e, nil
}

func isAbs(p string) bool { return strings.HasPrefix(p, "/") }

func (s *Server) status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{PID: os.Getpid(), Started: s.started, Idle: s.Idle}
	for t, e := range s.engines {
		st.Registries = append(st.Registries, t.Path)
		for _, u := range e.Unlocked() {
			st.Unlocked = append(st.Unlocked, Unlocked{Registry: t.Path, Unlocked: u})
		}
	}
	slices.Sort(st.Registries)
	slices.SortFunc(st.Unlocked, func(a, b Unlocked) int {
		return cmp.Or(strings.Compare(a.Registry, b.Registry), strings.Compare(a.Vault, b.Vault))
	})
	return st
}

// setOptions rebuilds engine.SetOptions, with a confirmation that asks the
// client.
func (c *conn) setOptions(o setOptions) engine.SetOptions {
	return engine.SetOptions{Vault: o.Vault, Metadata: o.Metadata, NoClobber: o.NoClobber, Change: c.change(o.Change)}
}

func (c *conn) change(ch change) engine.Change {
	out := engine.Change{WhatIf: ch.WhatIf}
	if ch.Confirm {
		out.Confirm = c.ask
	}
	return out
}

// ask sends the client a question and waits for its answer. Anything but
// an answer declines.
func (c *conn) ask(a engine.Action) bool {
	if err := c.enc.Encode(&response{Confirm: &a}); err != nil {
		return false
	}
	var req request
	if err := c.dec.Decode(&req); err != nil {
		return false
	}
	return req.Op == opConfirm && req.Yes
}

// envLookup looks a variable up in a client's environment.
func envLookup(env []string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v, true
			}
		}
		return "", false
	}
}

// clearRequest and clearResponse zero the secret bytes a message held once
// it has been used. Strings cannot be cleared; byte slices can.
func clearRequest(r *request) {
	clear(r.Password)
	clear(r.New)
	if b, ok := r.Value.([]byte); ok {
		clear(b)
	}
}

func clearResponse(r *response) {
	if b, ok := r.Secret.Value.([]byte); ok {
		clear(b)
	}
}
