package vaulttest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

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
	root := &checkT{ctx: ctx, rec: &recorder{}}
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
	mu       sync.Mutex
	cleanups []func()
}

func (t *checkT) Helper()                  {}
func (t *checkT) Name() string             { return t.name }
func (t *checkT) Context() context.Context { return t.ctx }

func (t *checkT) note(failed, skipped bool, msg string) {
	t.rec.mu.Lock()
	defer t.rec.mu.Unlock()
	r := &t.rec.results[t.index]
	r.Failed = r.Failed || failed
	r.Skipped = r.Skipped || skipped
	r.Messages = append(r.Messages, msg)
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
// failure in the subtest fails t too.
func (t *checkT) Run(name string, f func(T)) bool {
	full := name
	if t.name != "" {
		full = t.name + "/" + name
	}
	t.rec.mu.Lock()
	t.rec.results = append(t.rec.results, Result{Name: full})
	child := &checkT{ctx: t.ctx, name: full, rec: t.rec, index: len(t.rec.results) - 1}
	t.rec.mu.Unlock()
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
		f(child)
	}()
	<-done
	if child.Failed() {
		t.rec.mu.Lock()
		t.rec.results[t.index].Failed = true
		t.rec.mu.Unlock()
		return false
	}
	return true
}
