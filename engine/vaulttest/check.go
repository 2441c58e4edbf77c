package vaulttest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sesamehq/sesame/engine"
)

// Result is the outcome of one subtest of Check.
type Result struct {
	Name     string // "RoundTrip", "List/prefix", …
	Failed   bool
	Skipped  bool
	Messages []string // failures, skip reasons and log lines, in order
}

// Check runs the conformance suite outside go test — for a checker command
// such as sesame extension check — and returns one Result per subtest, top
// level first in suite order, each followed by its own subtests. newVault
// returns a fresh, empty vault and a function that releases it; Check calls
// it once per top-level subtest, never concurrently.
func Check(ctx context.Context, newVault func() (engine.Vault, func(), error), opts Options) []Result {
	return CheckStream(ctx, newVault, opts, 0, nil)
}

// maxGrace bounds how long CheckStream waits, past a test's deadline, for
// the test to return before it reports it and goes on without it: as long
// as the deadline itself, at most maxGrace.
const maxGrace = 5 * time.Second

// CheckStream is Check for a vault that may not answer. Each top-level
// subtest runs under a deadline of limit (0: none) from the moment its vault
// is open: its context ends then, so the vault's operations fail at once,
// and a test that has still not returned as long again later (at most 5s) is
// reported as failed and left behind (it starts nothing more). Opening the
// vault is bounded by newVault (the engine's own limits). report, if set, is
// called with each top-level subtest's results (the test, then its
// subtests) as soon as it ends, in suite order, so that a checker prints
// each part as it finishes.
func CheckStream(ctx context.Context, newVault func() (engine.Vault, func(), error), opts Options, limit time.Duration, report func([]Result)) []Result {
	root := &checkT{ctx: ctx, rec: &recorder{}, limit: limit, report: report, depth: -1}
	root.Run("", func(t T) {
		if err := opts.check(); err != nil {
			t.Fatalf("vaulttest.Check: %v", err)
		}
		run(t, func(t T) engine.Vault {
			v, release, err := newVault()
			if err != nil {
				t.Fatalf("cannot open the vault: %v", err)
			}
			t.(*checkT).cleanup(release)
			t.(*checkT).arm()
			return v
		}, opts)
	})
	return root.rec.results[1:] // the first is the unnamed root
}

// recorder collects results in the order subtests start.
type recorder struct {
	mu      sync.Mutex
	results []Result
}

// checkT is a T that records instead of reporting to go test. Fatal and Skip
// end the subtest's goroutine, as they do under go test.
type checkT struct {
	ctx      context.Context
	name     string
	rec      *recorder
	index    int // in rec.results
	depth    int // 0 for the unnamed root of the suite, 1 for a top-level test
	limit    time.Duration
	report   func([]Result)
	left     *atomic.Bool       // set when the top-level test this is part of was abandoned
	armed    chan struct{}      // of a top-level test under a deadline: closed by arm
	cancel   context.CancelFunc // of the deadline, once armed
	ended    time.Time          // when its function returned; read once done is closed
	mu       sync.Mutex
	cleanups []func()
}

func (t *checkT) Helper()      {}
func (t *checkT) Name() string { return t.name }
func (t *checkT) Context() context.Context {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ctx
}

func (t *checkT) note(failed, skipped bool, msg string) {
	if t.left != nil && t.left.Load() {
		return
	}
	t.rec.mu.Lock()
	defer t.rec.mu.Unlock()
	r := &t.rec.results[t.index]
	r.Failed = r.Failed || failed
	r.Skipped = r.Skipped || skipped
	r.Messages = append(r.Messages, msg)
}

// cause fails t with msg as its first message: why it ended, before what
// failed on the way.
func (t *checkT) cause(msg string) {
	t.rec.mu.Lock()
	defer t.rec.mu.Unlock()
	r := &t.rec.results[t.index]
	r.Failed = true
	r.Messages = slices.Insert(r.Messages, 0, msg)
}

func (t *checkT) Logf(format string, args ...any) { t.note(false, false, fmt.Sprintf(format, args...)) }
func (t *checkT) Errorf(format string, args ...any) {
	t.note(true, false, fmt.Sprintf(format, args...))
}
func (t *checkT) Fatal(args ...any) {
	t.note(true, false, strings.TrimSuffix(fmt.Sprintln(args...), "\n"))
	runtime.Goexit()
}
func (t *checkT) Fatalf(format string, args ...any) {
	t.note(true, false, fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (t *checkT) Skip(args ...any) {
	t.note(false, true, strings.TrimSuffix(fmt.Sprintln(args...), "\n"))
	runtime.Goexit()
}
func (t *checkT) Skipf(format string, args ...any) {
	t.note(false, true, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// since returns a copy of the results from index i on.
func (r *recorder) since(i int) []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.results[i:])
	for j := range out {
		out[j].Messages = slices.Clone(out[j].Messages)
	}
	return out
}

func (t *checkT) Failed() bool {
	t.rec.mu.Lock()
	defer t.rec.mu.Unlock()
	return t.rec.results[t.index].Failed
}

func (t *checkT) cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *checkT) TempDir() string {
	dir, err := os.MkdirTemp("", "vaulttest-")
	if err != nil {
		t.Fatalf("TempDir: %v", err)
	}
	t.cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Run runs f as a subtest in a goroutine of its own and waits for it; a
// failure in the subtest fails t too. A top-level subtest runs under the
// deadline of CheckStream, and is reported when it ends.
func (t *checkT) Run(name string, f func(T)) bool {
	if t.depth >= 1 && t.Context().Err() != nil || t.left != nil && t.left.Load() {
		runtime.Goexit() // a test past its deadline, or abandoned, starts nothing more
	}
	full := name
	if t.name != "" {
		full = t.name + "/" + name
	}
	t.rec.mu.Lock()
	t.rec.results = append(t.rec.results, Result{Name: full})
	child := &checkT{ctx: t.Context(), name: full, rec: t.rec, index: len(t.rec.results) - 1,
		depth: t.depth + 1, limit: t.limit, report: t.report, left: t.left}
	t.rec.mu.Unlock()
	top := child.depth == 1
	if top && t.limit > 0 {
		child.armed = make(chan struct{})
		child.left = new(atomic.Bool)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			child.mu.Lock()
			fns := slices.Clone(child.cleanups)
			child.mu.Unlock()
			slices.Reverse(fns)
			for _, fn := range fns {
				fn()
			}
		}()
		defer func() { child.ended = time.Now() }() // before its cleanups
		f(child)
	}()
	child.wait(done)
	if top && t.report != nil {
		t.report(t.rec.since(child.index))
	}
	if child.Failed() {
		t.rec.mu.Lock()
		t.rec.results[t.index].Failed = true
		t.rec.mu.Unlock()
		return false
	}
	return true
}

// arm starts the deadline of a top-level test, once its vault is open:
// opening it (registering and compiling a module) is the checker's work,
// bounded by the engine, not the vault's answers.
func (t *checkT) arm() {
	if t.armed == nil {
		return
	}
	t.mu.Lock()
	t.ctx, t.cancel = context.WithTimeout(t.ctx, t.limit)
	t.mu.Unlock()
	close(t.armed)
}

// wait waits until done is closed; a top-level test under a deadline is
// left behind when it has not returned a grace period after its deadline.
func (t *checkT) wait(done <-chan struct{}) {
	if t.armed == nil {
		<-done
		return
	}
	defer func() {
		if t.cancel != nil {
			t.cancel()
		}
	}()
	select {
	case <-done:
		return // it ended before its vault was open
	case <-t.armed:
	}
	grace := min(t.limit, maxGrace)
	timer := time.NewTimer(t.limit + grace)
	defer timer.Stop()
	select {
	case <-done:
		if reached(t.Context(), t.ended) {
			t.cause(fmt.Sprintf("stopped at its deadline of %s", t.limit))
		}
	case <-timer.C:
		t.cause(fmt.Sprintf("did not return within %s of its deadline of %s; left behind", grace, t.limit))
		t.left.Store(true)
	}
}

// reached reports whether a test that ended at the time at had reached
// ctx's deadline. Not ctx.Err: a vault that gives up at the deadline by its
// own timer, as the sandbox stops a guest, can return, and the test end,
// before the context's timer has fired.
func reached(ctx context.Context, at time.Time) bool {
	d, ok := ctx.Deadline()
	return ok && !at.Before(d)
}
