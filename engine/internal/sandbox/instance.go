package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/sesamehq/sesame/abi"
)

// maxCallsPerInstance bounds how long one instance lives, so that a slow leak
// in a guest cannot accumulate.
const maxCallsPerInstance = 10_000

// stderrTail is how much of a guest's stderr is kept for error reports.
const stderrTail = 4 << 10

// instance is one instantiated module. It serves one call at a time.
type instance struct {
	mod    api.Module
	mem    *guestMemory // its linear memory
	fns    map[string]api.Function
	stderr *tail
	calls  int
	stack  []uint64
	gen    int               // the pool's generation when it was created
	stop   api.MutableGlobal // set to stop the running call; nil when the module defines no function
	halted bool              // stop was set, or may yet be: the instance must go
	haltMu sync.Mutex        // a deadline and Host.Close may set stop at once
	inited bool              // sesame_init has run on it (or the module has none)
	ctx    *callContext      // the context of its calls, made by the first
}

// initExport is the export that starts a reactor (its runtime, its
// constructors): the host calls it on each new instance, after the module's
// start function (startExport) and under the instance's stop global, rather
// than as wazero's start function, which would run before the host could
// reach that global.
const initExport = "_initialize"

// newInstance instantiates the module and starts its runtime under the
// deadline of an instance's start; sesame_init runs later (initialize),
// once the manifest has been checked.
func (m *Module) newInstance(ctx context.Context) (*instance, error) {
	r, err := m.host.runtimeFor(ctx, m.rtKey)
	if err != nil {
		return nil, err
	}
	in := &instance{fns: map[string]api.Function{}, stderr: &tail{}, stack: make([]uint64, 3), mem: &guestMemory{use: &m.host.memory}}
	mod, err := r.rt.InstantiateModule(experimental.WithMemoryAllocator(ctx, in.mem), m.compiled, m.config.WithStderr(in.stderr))
	if err != nil {
		in.mem.release()
		return nil, m.failure("_initialize", ctx, err, in.stderr)
	}
	in.mod = mod
	if g, ok := mod.ExportedGlobal(stopExport).(api.MutableGlobal); ok {
		in.stop = g
	}
	for _, name := range []string{startExport, initExport} {
		if fn := mod.ExportedFunction(name); fn != nil {
			cc := in.begin(ctx, m.limit(initExport), nil)
			if err := in.run(cc, m.host, fn, nil); err != nil {
				e := m.failure(initExport, cc, err, in.stderr)
				in.close(ctx)
				return nil, e
			}
		}
	}
	for name := range exportTypes {
		if fn := mod.ExportedFunction(name); fn != nil {
			in.fns[name] = fn
		}
	}
	return in, nil
}

// initialize runs sesame_init on in if it has not run yet, under the
// deadline of an instance's start. It runs before in's first call but the
// manifest's (SPEC.md §3), so that a vault missing a grant its manifest
// names is refused for that, with the grant named, rather than failing in
// an init that needed the grant.
func (m *Module) initialize(parent context.Context, in *instance) error {
	if in.inited {
		return nil
	}
	if m.hasInit {
		if _, err := m.invoke(parent, in, abi.ExportInit, m.limit(initExport), [][]byte{[]byte(m.spec.Vault), m.params}); err != nil {
			return err
		}
	}
	in.inited = true
	return nil
}

// close zeroes the instance's linear memory, where the values and keys of
// its calls may remain, gives it back to the system, then closes the
// instance; no call may be running on it (memory.go). (Zeroing costs a pass
// over the pages the guest touched, about 30 ms for 64 MiB on a busy
// machine; instances are closed rarely: on a trap, a recycle, a lock, a
// key's timeout and the module's close.)
func (in *instance) close(ctx context.Context) {
	in.mem.release()
	if in.mod != nil {
		in.mod.Close(ctx)
	}
}

// initTimeout bounds the start of a new instance (_initialize and
// sesame_init). It is separate from the call's deadline, which is about the
// call's own work: a Go runtime starting on a busy machine can take longer
// than a tight per-call limit.
const initTimeout = 30 * time.Second

// limit is the deadline of one call of export. Starting an instance (with
// the manifest, read once as the module loads), and the operations that
// derive a key from a password (a memory-hard KDF, by design slow), get at
// least initTimeout.
func (m *Module) limit(export string) time.Duration {
	switch export {
	case "_initialize", abi.ExportInit, abi.ExportManifest, abi.ExportUnlock, abi.ExportSetPassword:
		return max(m.timeout, initTimeout)
	}
	return m.timeout
}

// call runs one export on a pooled instance, under the module's deadline.
func (m *Module) call(parent context.Context, export string, args [][]byte) ([]byte, error) {
	limit := m.limit(export)
	in, err := m.instance(parent, limit, export)
	if err != nil {
		return nil, err
	}
	if export != abi.ExportManifest {
		if err := m.initialize(parent, in); err != nil {
			m.pool.put(parent, in, false)
			return nil, err
		}
	}
	out, err := m.invoke(parent, in, export, limit, args)
	healthy := err == nil || !trapped(err)
	healthy = healthy && !in.halted && in.calls < maxCallsPerInstance && in.mod.Memory().Size() <= m.recycle
	m.pool.put(parent, in, healthy)
	return out, err
}

// trapped reports whether err is not a status the guest returned: a trap,
// exit or deadline (invoke), after which its instance is not used again. A
// function of its own, so that the error pointer errors.As needs is made
// only for a call that failed, not for every call.
func trapped(err error) bool {
	var se *Error
	return !errors.As(err, &se) || se.trap
}

// instance takes an idle instance from the pool for a call of export, or
// waits for one at most limit, or makes one under the deadline of an
// instance's start.
func (m *Module) instance(parent context.Context, limit time.Duration, export string) (*instance, error) {
	if in := m.pool.idleOne(); in != nil {
		return in, nil // the common case, without a context for the wait
	}
	ctx, cancel := context.WithTimeout(parent, limit)
	defer cancel()
	in, err := m.pool.get(ctx, func() (*instance, error) {
		ictx, cancel := context.WithTimeout(parent, m.limit("_initialize"))
		defer cancel()
		return m.newInstance(ictx)
	})
	if err != nil {
		var se *Error
		if errors.As(err, &se) {
			return nil, se
		}
		return nil, m.failure(export, ctx, err, nil)
	}
	return in, nil
}

// run calls fn on in with stack, under cc (begin), until it returns, or
// traps at the stop global, which is set when cc ends or host closes first
// (instrument.go); it ends cc. An instance whose stop was set, or may yet
// be set by a late deadline, is marked halted.
func (in *instance) run(cc *callContext, host *Host, fn api.Function, stack []uint64) error {
	if in.stop != nil && !host.enter(in) {
		cc.end()
		in.halted = true
		return errors.New("the host is closed")
	}
	err := fn.CallWithStack(cc, stack) // with no function of its own (stop nil), nothing runs on
	if in.stop != nil {
		host.leave(in)
	}
	if cc.end() {
		in.halted = true
	}
	return err
}

// halt sets the stop global of in, if it has one: the call running on it
// traps at its next loop or call.
func (in *instance) halt() {
	if in.stop == nil {
		return
	}
	in.haltMu.Lock()
	defer in.haltMu.Unlock()
	in.stop.Set(1)
}

// invoke calls export on in, under parent and for at most limit. A status
// error leaves the instance usable; any other failure (trap, exit,
// deadline) is marked as a trap.
func (m *Module) invoke(parent context.Context, in *instance, export string, limit time.Duration, args [][]byte) ([]byte, error) {
	fn := in.fns[export]
	if fn == nil {
		return nil, errorf(abi.Unsupported, export, "the extension does not export "+export)
	}
	c := &call{vault: m.spec.Vault, args: args, storage: m.spec.Storage, keyring: &m.keyring, keys: &m.keys,
		identity: m.spec.Identity, id: m.calls.Add(1), kdfTurn: m.kdfTurn, grant: m.spec.Memory, logger: m.host.logger, http: m.http, dir: m.writableDir()}
	m.keys.begin(c.id)
	defer m.keys.endCall(c.id)
	stack := in.stack[:max(len(args), 1)]
	for i, a := range args {
		stack[i] = uint64(len(a))
	}
	in.calls++
	ctx := in.begin(parent, limit, c)
	if err := in.run(ctx, m.host, fn, stack); err != nil {
		e := m.failure(export, ctx, err, in.stderr)
		if g := in.mod.ExportedGlobal(stackExport); e.Status == abi.Internal && g != nil && g.Get() == stackExhausted {
			e.Message = fmt.Sprintf("extension trapped in %s: out of stack (calls nested past the limit of %d KiB that its memory grant sets)", export, stackBudget(m.spec.Memory)>>10)
		}
		return nil, e
	}
	if c.dropped > 0 {
		m.host.logger.WarnContext(parent, fmt.Sprintf("extension log lines dropped past the limit of %d a call", abi.MaxLogLines), "vault", m.spec.Vault, "dropped", c.dropped)
	}
	if fn.Definition().ResultTypes() == nil || len(fn.Definition().ResultTypes()) == 0 {
		return c.output, nil
	}
	if s := abi.Status(uint32(stack[0])).Normalize(); s != abi.OK {
		msg := c.message
		if echoesHost(msg, s) {
			msg = ""
		}
		for _, host := range []string{c.storageErr, c.httpErr} {
			if host != "" {
				msg = strings.TrimPrefix(msg+"; "+host, "; ")
			}
		}
		return nil, &Error{Export: export, Status: s, Message: msg}
	}
	return c.output, nil
}

// errClosed is the error of a call that reaches a module after its Close
// began: the engine holding it is closing, and a new one will load it.
func errClosed(export string) *Error {
	return &Error{Export: export, Status: abi.Unavailable, Message: export + " was not run: the vault was closed"}
}

// failure turns a failed wazero call into an Error marked as a trap.
func (m *Module) failure(export string, ctx context.Context, err error, stderr *tail) *Error {
	e := &Error{Export: export, Status: abi.Internal, trap: true}
	var exit *sys.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		e.Status = abi.DeadlineExceeded
		e.Message = fmt.Sprintf("%s did not finish before its deadline (the limit is %s)", export, m.limit(export))
	case ctx.Err() != nil:
		e.Status = abi.Unavailable
		e.Message = export + " was canceled"
	case m.closed.Load() || m.host.isClosed():
		// Close stopped the call or tore the instance down under it: no
		// failure of the extension.
		e.Status, e.Message = abi.Unavailable, errClosed(export).Message
	case errors.As(err, &exit):
		e.Message = fmt.Sprintf("extension exited with code %d in %s", exit.ExitCode(), export)
	default:
		first, _, _ := strings.Cut(err.Error(), "\n")
		e.Message = "extension trapped in " + export + ": " + first
	}
	if stderr != nil {
		e.Stderr = stderr.String()
	}
	return e
}

// tail keeps the last stderrTail bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) > stderrTail {
		p = p[len(p)-stderrTail:]
	}
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - stderrTail; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return n, nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.ToValidUTF8(string(t.buf), "\uFFFD")
}
