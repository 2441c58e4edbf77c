package agent

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sesamehq/sesame/engine/api"
	"github.com/sesamehq/sesame/internal/stack"
)

// Server runs engine operations for the clients of one user. It keeps one
// engine per registry it is asked about, open until it stops, so unlocked
// vaults stay unlocked (for their password timeout) and extensions stay
// instantiated between clients.
type Server struct {
	// UID is the only user allowed to connect; NewServer sets it to this
	// process's user. Every connection's peer credentials are checked.
	UID int
	// Idle is how long the server waits without a request before it
	// stops; 0 = never. A connection open but silent does not count.
	Idle time.Duration
	// Build names the program that serves; clients of the server's user
	// read it from the greeting (Client.Build).
	Build string
	// Logger receives the server's events (start, stop, refused peers) and
	// the extensions' log lines. Never a secret.
	Logger *slog.Logger
	// MaxConns is how many connections are served at once; the next one
	// is refused, with a message that says so. NewServer: 64.
	MaxConns int
	// FrameTimeout is how long the rest of a message may take once its
	// first byte came, and how long writing one may take: a peer that
	// sends half a request, or reads no answer, is dropped. NewServer: 10s.
	FrameTimeout time.Duration
	// Grace is how long a stopping server waits for the requests it
	// canceled to end before Serve returns anyway. NewServer: 3s.
	Grace time.Duration

	opener   Engines
	mu       sync.Mutex
	engines  map[target]Engine
	busy     int                   // requests in progress
	open     map[net.Conn]struct{} // connected clients
	timer    *time.Timer
	ln       net.Listener
	done     chan struct{}
	cancel   context.CancelFunc // of the requests' context
	stopping bool
	reason   string
	started  time.Time
	conns    sync.WaitGroup
}

// answerTimeout is how long a question to the client (a confirmation)
// waits for its answer; then it counts as declined.
const answerTimeout = 10 * time.Minute

// NewServer returns a server for this process's user, of the engines that
// e opens.
func NewServer(e Engines) *Server {
	return &Server{opener: e, UID: os.Getuid(), Logger: slog.New(slog.DiscardHandler), MaxConns: 64, FrameTimeout: 10 * time.Second, Grace: 3 * time.Second}
}

// Serve accepts clients on ln until ctx ends, a client asks the server to
// stop, or no request came for Idle. Stopping makes every vault forget its
// keys at once, cancels the requests in progress and closes every
// connection; Serve then waits up to Grace for the requests to end, closes
// the engines and returns why it stopped: "stop request", "idle" or
// "signal". A request that ignores its cancellation (stuck in the kernel,
// or in a computation that cannot be interrupted) is left running: a
// process that serves should exit when Serve returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) (string, error) {
	s.mu.Lock()
	if s.done != nil {
		s.mu.Unlock()
		return "", errors.New("agent: Serve called twice")
	}
	var rctx context.Context
	rctx, s.cancel = context.WithCancel(ctx)
	s.ln, s.done, s.started = ln, make(chan struct{}), time.Now()
	s.engines = map[target]Engine{}
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
	err := s.accept(rctx)
	s.windDown()
	return s.reason, err
}

// accept accepts connections until the server stops. A failed accept (too
// many open files, a connection aborted) is retried after a pause that
// grows to a second; only a closed listener ends it.
func (s *Server) accept(ctx context.Context) error {
	var pause time.Duration
	for {
		nc, err := s.ln.Accept()
		if err == nil {
			pause = 0
			s.admit(ctx, nc)
			continue
		}
		select {
		case <-s.done:
			return nil
		default:
		}
		if errors.Is(err, net.ErrClosed) {
			s.stop("listener closed")
			return err
		}
		pause = min(max(2*pause, 5*time.Millisecond), time.Second)
		s.Logger.Warn("accepting a client failed; trying again", "err", err, "pause", pause)
		select {
		case <-s.done:
			return nil
		case <-time.After(pause):
		}
	}
}

// admit checks a new connection's peer and the number of connections, and
// serves it or refuses it. A refused peer of another user learns nothing
// but the protocol version and why.
func (s *Server) admit(ctx context.Context, nc net.Conn) {
	st := newStream(nc, maxRequest, s.FrameTimeout)
	err := s.checkPeer(nc)
	if err == nil {
		err = s.enter(nc)
	}
	if err != nil {
		st.send(&response{Version: Version, Err: encodeError(err)})
		nc.Close()
		return
	}
	s.conns.Add(1)
	go func() {
		stack.Reserve() // the engine's calls go deep: one copy of the stack, not several
		defer s.conns.Done()
		defer s.leave(nc)
		s.serveConn(ctx, nc, st)
	}()
}

// stop makes every engine's vaults forget their keys, then cancels the
// requests in progress, closes the listener and every connection; Serve
// then winds down. The keys go first, without waiting for anything: a
// request that hangs cannot keep them.
func (s *Server) stop(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return
	}
	s.stopping, s.reason = true, reason
	for _, e := range s.engines {
		e.Forget()
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	close(s.done)
	s.cancel()
	s.ln.Close()
	for c := range s.open {
		c.Close()
	}
}

// windDown waits up to Grace for the connections to end, then closes the
// engines: at once when every request ended, else in the background (a
// stuck request may hold an engine; its keys are gone already).
func (s *Server) windDown() {
	ended := make(chan struct{})
	go func() {
		s.conns.Wait()
		close(ended)
	}()
	timer := time.NewTimer(s.Grace)
	defer timer.Stop()
	stuck := false
	select {
	case <-ended:
	case <-timer.C:
		stuck = true
		s.Logger.Warn("requests still running after the stop's grace period; leaving them", "grace", s.Grace)
	}
	s.mu.Lock()
	engines := s.engines
	s.engines = nil
	s.mu.Unlock()
	closeAll := func() {
		for _, e := range engines {
			e.Close()
		}
	}
	if stuck {
		go closeAll()
	} else {
		closeAll()
	}
}

// enter counts a new connection in, unless the server stops or serves
// MaxConns already.
func (s *Server) enter(c net.Conn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopping:
		return fmt.Errorf("%w: %w", api.ErrUnavailable, errAgentStopping)
	case s.MaxConns > 0 && len(s.open) >= s.MaxConns:
		s.Logger.Warn("refused a client: too many connections", "max", s.MaxConns)
		return fmt.Errorf("%w: %w: it serves at most %d connections at once; try again when one ends", api.ErrUnavailable, errAgentBusy, s.MaxConns)
	}
	s.open[c] = struct{}{}
	return nil
}

func (s *Server) leave(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.open, c)
}

// begin counts a request in: the idle period is counted between requests,
// not between connections. It reports false once the server stops.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.busy++
	if s.timer != nil {
		s.timer.Stop()
	}
	return true
}

func (s *Server) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy--
	if s.busy == 0 && s.timer != nil && !s.stopping {
		s.timer.Reset(s.Idle)
	}
}

func (s *Server) idleCheck() {
	s.mu.Lock()
	idle := s.busy == 0
	s.mu.Unlock()
	if idle {
		s.stop("idle")
	}
}

// conn is one client connection.
// conn is one client's connection. A goroutine of its own (read) decodes
// what the client sends, so that the server learns at once when the client
// goes away, even in the middle of a request: the request is then canceled.
type conn struct {
	nc net.Conn
	st *stream
	in chan incoming // what read decoded, in order; closed after an error

	mu     sync.Mutex
	cancel context.CancelFunc // of the request being served; nil between requests
	gone   bool               // the client went away
}

// incoming is one message from the client, or the error that ended the
// connection.
type incoming struct {
	req request
	err error
}

// read decodes the client's messages into c.in until the connection ends,
// and cancels the request in progress when it does.
func (c *conn) read() {
	stack.Reserve() // the codec recurses through the request's values
	defer close(c.in)
	err := c.st.readPreface()
	for {
		var in incoming
		c.nc.SetReadDeadline(time.Time{}) // a client may wait between messages; within one, the stream times out
		if in.err = err; in.err == nil {
			in.err = c.st.recv(&in.req)
		}
		if in.err != nil {
			clearRequest(&in.req)
			c.mu.Lock()
			c.gone = true
			if c.cancel != nil {
				c.cancel()
			}
			c.mu.Unlock()
			c.in <- in
			return
		}
		c.in <- in
	}
}

// serving returns the context of one request, canceled when the client goes
// away; done ends it.
func (c *conn) serving(ctx context.Context) (_ context.Context, done func()) {
	ctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	if c.gone {
		cancel()
	}
	c.cancel = cancel
	c.mu.Unlock()
	return ctx, func() {
		c.mu.Lock()
		c.cancel = nil
		c.mu.Unlock()
		cancel()
	}
}

func (s *Server) serveConn(ctx context.Context, nc net.Conn, st *stream) {
	defer nc.Close()
	c := &conn{nc: nc, st: st, in: make(chan incoming, 1)}
	// The server speaks first: its version and build.
	if err := st.send(&response{Version: Version, Build: s.Build}); err != nil {
		return
	}
	go c.read()
	defer func() {
		nc.Close() // ends read, which may be waiting to hand over a message
		for in := range c.in {
			clearRequest(&in.req)
		}
	}()
	for in := range c.in {
		req := in.req
		if in.err != nil {
			if !errors.Is(in.err, io.EOF) && !errors.Is(in.err, net.ErrClosed) {
				s.Logger.Debug("client connection ended", "err", in.err)
			}
			return
		}
		if !s.begin() {
			clearRequest(&req)
			return
		}
		rctx, done := c.serving(ctx)
		resp := s.do(rctx, c, &req)
		done()
		clearRequest(&req)
		err := st.send(resp)
		clearResponse(resp)
		s.end()
		if err != nil {
			return
		}
		if req.Op == opStop {
			s.stop("stop request")
			return
		}
	}
}

func (s *Server) checkPeer(nc net.Conn) error {
	uid, err := peerUID(nc)
	if err != nil {
		s.Logger.Warn("refused a client", "err", err)
		return fmt.Errorf("%w: cannot check the client's credentials: %w", api.ErrPermissionDenied, err)
	}
	if uid != s.UID {
		s.Logger.Warn("refused a client of another user", "uid", uid)
		return fmt.Errorf("%w: the sesame agent of user %d does not serve user %d", api.ErrPermissionDenied, s.UID, uid)
	}
	return nil
}

// do runs one request: one of the agent's own, or an engine call, whose
// callbacks are the client's (call.go).
func (s *Server) do(ctx context.Context, c *conn, req *request) *response {
	switch req.Op {
	case opStop:
		return &response{}
	case opStatus:
		return &response{Status: s.status()}
	case "":
		if req.Call != nil {
			break
		}
		fallthrough
	default:
		return &response{Err: encodeError(fmt.Errorf("%w: unknown message %q", errProtocol, req.Op))}
	}
	if req.Build != "" && req.Build != s.Build {
		return &response{Err: encodeError(errOtherBuild)}
	}
	var logs *sink
	if req.Log {
		logs = &sink{level: req.LogLevel}
		ctx = withSink(ctx, logs)
	}
	e, err := s.engine(ctx, req.Target, logs)
	if err != nil {
		return &response{Err: encodeError(err), Logs: logs.collectedOrNil()}
	}
	ctx = s.opener.WithEnv(ctx, c.envLookup())
	r := &response{}
	defer func() { r.Logs = logs.collectedOrNil() }()
	var h hooks
	if req.Confirm {
		h.confirm = c.ask
	}
	if req.Report {
		h.report = func(sr api.StorageReport) { r.Reports = append(r.Reports, sr) }
	}
	r.Result, err = e.Do(ctx, withHooks(req.Call, h))
	r.Err = encodeError(err)
	return r
}

// engine returns the engine of t, opening it on first use (outside the
// server's lock: stop must not wait for a registry being read); what the
// engine logs while it opens goes to logs, the lines of the request that
// opens it.
func (s *Server) engine(ctx context.Context, t target, logs *sink) (Engine, error) {
	s.mu.Lock()
	e, stopping := s.engines[t], s.stopping
	s.mu.Unlock()
	switch {
	case e != nil:
		return e, nil
	case stopping:
		return nil, errStopping()
	case !isAbs(t.Path) || !isAbs(t.DataDir) || (!t.NoCache && !isAbs(t.CacheDir)):
		return nil, fmt.Errorf("%w: the registry and its folders must be absolute paths", errProtocol)
	}
	h := newRelay(s.Logger.Handler())
	h.opening.Store(logs)
	e, err := s.opener.Open(ctx, t.Path, &api.Options{DataDir: t.DataDir, CacheDir: t.CacheDir, NoCache: t.NoCache, Logger: slog.New(h)})
	h.opening.Store(nil)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if other := s.engines[t]; other != nil || s.stopping {
		e.Close()
		if other == nil {
			return nil, errStopping()
		}
		return other, nil
	}
	s.engines[t] = e
	return e, nil
}

// errStopping is a request that comes as the agent stops (a function, not
// a variable: fmt at init is a cost for every command).
func errStopping() error {
	return &api.Error{Op: api.OpOpen, Err: fmt.Errorf("%w: the sesame agent is stopping", api.ErrUnavailable)}
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

// ask sends the client a question and waits for its answer, for
// answerTimeout at most. Anything but an answer declines.
func (c *conn) ask(a api.Action) bool {
	if err := c.st.send(&response{Confirm: &a}); err != nil {
		return false
	}
	t := time.NewTimer(answerTimeout)
	defer t.Stop()
	select {
	case in, ok := <-c.in:
		defer clearRequest(&in.req)
		if !ok || in.err != nil {
			return false // the connection is gone; serveConn ends with it
		}
		return in.req.Op == opConfirm && in.req.Yes
	case <-t.C:
		return false
	}
}

// envLookup returns the lookup of one request's environment variables: it
// asks the client for each variable the engine reads (those a vault's env
// grant names) once, when first read. Only the values asked for cross the
// socket, and become strings (which cannot be zeroed).
func (c *conn) envLookup() func(string) (string, bool) {
	type answer struct {
		v  string
		ok bool
	}
	var mu sync.Mutex // the engine may look variables up from several goroutines; one question at a time
	known := map[string]answer{}
	return func(k string) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		a, asked := known[k]
		if !asked {
			a.v, a.ok = c.askEnv(k)
			known[k] = a
		}
		return a.v, a.ok
	}
}

// askEnv asks the client for its value of the variable k, and waits for the
// answer for answerTimeout at most. Anything but an answer is unset.
func (c *conn) askEnv(k string) (string, bool) {
	if err := c.st.send(&response{Env: []string{k}}); err != nil {
		return "", false
	}
	t := time.NewTimer(answerTimeout)
	defer t.Stop()
	select {
	case in, ok := <-c.in:
		defer clearRequest(&in.req)
		if !ok || in.err != nil || in.req.Op != opEnv {
			return "", false
		}
		for _, kv := range in.req.Env {
			if v, ok := bytes.CutPrefix(kv, []byte(k+"=")); ok {
				return string(v), true
			}
		}
		return "", false
	case <-t.C:
		return "", false
	}
}

// clearRequest and clearResponse zero the secret bytes a message held once
// it has been used: every byte slice of the call and of the environment
// (passwords, secret values), and of the result (a secret's value).
// Strings cannot be cleared; byte slices can.
func clearRequest(r *request) {
	wipe(reflect.ValueOf(r))
}

func clearResponse(r *response) {
	wipe(reflect.ValueOf(r))
}
